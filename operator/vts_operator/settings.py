"""The operator's configuration (VTS_URL and friends) and its kopf settings."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
from collections.abc import Mapping

import kopf

from vts_operator.mapping import GROUP
from vts_operator.tenancy import TENANT_RULE, is_tenant, parse_tenant_map, tenant_for

FINALIZER = f"{GROUP}/operator"
"""Kept on every TranslationJob until its vts job is cancelled (or given up on)."""


_URL = re.compile(r"https?://[^/\s]+(/\S*)?")
_NAMESPACE = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")


class ConfigError(ValueError):
    """An environment variable has a value the operator cannot use."""


@dataclasses.dataclass(frozen=True)
class OperatorConfig:
    """What the operator reads from its environment at start-up."""

    vts_url: str = "http://localhost:8000"
    """VTS_URL: the vts API every TranslationJob is run on (http://localhost:8000)."""

    retry_delay: float = 10.0
    """VTS_OPERATOR_RETRY_DELAY: seconds before a resource is retried after vts was
    unreachable or answered 5xx without a Retry-After (10); also the base of the
    doubling delays between attempts to cancel a deleted resource's job. The client
    retries each request itself first, with backoff starting at min(1, this)."""

    status_interval: float = 1.0
    """VTS_OPERATOR_STATUS_INTERVAL: a resource's status is patched at most this
    often for progress alone (1); phase changes are patched at once."""

    auth_retry_delay: float = 60.0
    """VTS_OPERATOR_AUTH_RETRY_DELAY: seconds before a resource is retried after vts
    refused the operator's API key (401) or its scope (403) (60). Slow on purpose:
    only a fixed key or a finished rollout helps, and a tight loop would flood vts
    with failed authentications."""

    tenant: str | None = None
    """VTS_OPERATOR_TENANT: create every job in this tenant; unset (the default):
    each resource's namespace is its tenant."""

    tenant_map: tuple[tuple[str, str], ...] = ()
    """VTS_OPERATOR_TENANT_MAP: `namespace=tenant,...` pairs that win over both
    (empty)."""

    retry_max_delay: float = 300.0
    """VTS_OPERATOR_RETRY_MAX_DELAY: the longest wait between two retries of a
    resource while vts stays unreachable (300): the delay grows from
    VTS_OPERATOR_RETRY_DELAY, doubling, with jitter, up to this."""

    namespaces: tuple[str, ...] = ()
    """VTS_OPERATOR_NAMESPACES: `ns-a,ns-b`, the namespaces to watch, with a Role in
    each instead of a ClusterRole; empty (the default): every namespace."""

    # The API key is no field: the client reads VTS_API_KEY itself, so the key is
    # never in this object's repr or in a log of the configuration.

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OperatorConfig:
        """The configuration from `environ`; ConfigError names a bad variable."""
        url = environ.get("VTS_URL", cls.vts_url).strip()
        if not _URL.fullmatch(url):
            raise ConfigError(f"VTS_URL: {url!r} is not an http:// or https:// URL")
        return cls(
            vts_url=url.rstrip("/"),
            retry_delay=_number(
                environ, "VTS_OPERATOR_RETRY_DELAY", cls.retry_delay, positive=True
            ),
            retry_max_delay=_number(
                environ,
                "VTS_OPERATOR_RETRY_MAX_DELAY",
                cls.retry_max_delay,
                positive=True,
            ),
            namespaces=_namespaces(environ),
            status_interval=_number(
                environ, "VTS_OPERATOR_STATUS_INTERVAL", cls.status_interval
            ),
            auth_retry_delay=_number(
                environ,
                "VTS_OPERATOR_AUTH_RETRY_DELAY",
                cls.auth_retry_delay,
                positive=True,
            ),
            tenant=_tenant(environ),
            tenant_map=_tenant_map(environ),
        )

    def tenant_of(self, namespace: str | None) -> str:
        """The vts tenant of a resource in `namespace` (see tenancy.tenant_for)."""
        return tenant_for(namespace, fixed=self.tenant, overrides=dict(self.tenant_map))

    @property
    def client_retry_delay(self) -> float:
        """The backoff base of the client's own retries."""
        return min(1.0, self.retry_delay)


def _namespaces(environ: Mapping[str, str]) -> tuple[str, ...]:
    raw = environ.get("VTS_OPERATOR_NAMESPACES", "")
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    for name in names:
        if not _NAMESPACE.fullmatch(name):
            raise ConfigError(
                f"VTS_OPERATOR_NAMESPACES: {name!r} is not a namespace name"
                " (lower-case letters, digits and '-', at most 63)"
            )
    return names


def _tenant(environ: Mapping[str, str]) -> str | None:
    tenant = environ.get("VTS_OPERATOR_TENANT", "").strip()
    if tenant and not is_tenant(tenant):
        raise ConfigError(
            f"VTS_OPERATOR_TENANT: {tenant!r} is not a tenant name ({TENANT_RULE})"
        )
    return tenant or None


def _tenant_map(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    try:
        pairs = parse_tenant_map(environ.get("VTS_OPERATOR_TENANT_MAP", ""))
    except ValueError as exc:
        raise ConfigError(f"VTS_OPERATOR_TENANT_MAP: {exc}") from None
    return tuple(sorted(pairs.items()))


def _number(
    environ: Mapping[str, str], name: str, default: float, *, positive: bool = False
) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (0 < value if positive else 0 <= value) or math.isinf(value):
        accepted = "a number > 0" if positive else "a number >= 0"
        raise ConfigError(f"{name}: {raw!r} is not {accepted} (seconds)")
    return value


def configure(
    settings: kopf.OperatorSettings, namespaces: tuple[str, ...] = ()
) -> None:
    """Tune kopf for TranslationJobs.

    - kopf's bookkeeping (handler progress, the last-handled spec) lives in
      `vts.dev/*` annotations, so `status` holds only the job's state.
    - Only warnings and errors of kopf's own logs become Kubernetes Events; the
      operator posts its own Events (Submitted, Processing, Completed...) explicitly.
    - Watch requests end every 10 minutes (server side) and are re-established,
      and each has a connect timeout, so a half-open connection cannot hang forever.
    - Standalone: run one replica (peering would need kopf's peering CRDs).
    - Watching named namespaces (`-n`, VTS_OPERATOR_NAMESPACES): no scanning of
      namespaces and CRDs, which would need cluster-wide permissions a Role lacks.
    """
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=GROUP
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = "vts-operator"
    settings.watching.server_timeout = 600
    settings.watching.client_timeout = 660
    settings.watching.connect_timeout = 30
    settings.peering.standalone = True
    if namespaces:
        settings.scanning.disabled = True
