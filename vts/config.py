"""Settings: one typed, validated object built from VTS_* variables and `vts serve` options."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, get_type_hints

import attrs
import cattrs

from vts.config_values import (
    SimDuration,
    is_loopback,
    parse_bool,
    parse_duration,
    parse_sim_duration,
    redact_url,
    secret,
    setting,
)
from vts.errors import InvalidSettingError
from vts.webhooks.schedule import DEFAULT_SCHEDULE, SCHEDULE_ACCEPTED, parse_schedule

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


@attrs.frozen
class Settings:
    """Everything vts reads at start-up. Each field: its variable, its default."""

    host: str = setting("VTS_HOST", "127.0.0.1", "a host name or IP address", bool)
    """VTS_HOST: address to listen on (127.0.0.1)."""
    port: int = setting(
        "VTS_PORT", 8000, "a port number 0-65535", lambda v: 0 <= v <= 65535
    )
    """VTS_PORT: TCP port (8000; 0 picks a free one)."""
    database_url: str = setting(
        "VTS_DATABASE_URL",
        "sqlite:///./vts.db",
        "a URL such as sqlite:///./vts.db or postgresql://user:pass@host/db",
        lambda v: bool(_URL.match(v)),
        shown=redact_url,
    )
    """VTS_DATABASE_URL: the job store (sqlite:///./vts.db)."""
    redis_url: str = setting(
        "VTS_REDIS_URL",
        "fakeredis://",
        "a URL such as fakeredis:// or redis://host:6379/0",
        lambda v: bool(_URL.match(v)),
        shown=redact_url,
    )
    """VTS_REDIS_URL: cache, dead-letter queue and event relay (fakeredis://, in-process)."""
    processor: str = setting(
        "VTS_PROCESSOR", "simulated", "an installed processor plugin name", bool
    )
    """VTS_PROCESSOR: the translation pipeline plugin (simulated)."""
    concurrency: int = setting(
        "VTS_CONCURRENCY", 64, "an integer 1-10000", lambda v: 1 <= v <= 10000
    )
    """VTS_CONCURRENCY: jobs processed at once by this process (64)."""
    max_attempts: int = setting(
        "VTS_MAX_ATTEMPTS", 3, "an integer 1-100", lambda v: 1 <= v <= 100
    )
    """VTS_MAX_ATTEMPTS: attempts before a job is dead-lettered (3)."""
    max_lease_losses: int = setting(
        "VTS_MAX_LEASE_LOSSES", 5, "an integer 1-1000", lambda v: 1 <= v <= 1000
    )
    """VTS_MAX_LEASE_LOSSES: leases a job may lose to crashed workers before it is
    dead-lettered as `lease-lost` (5); a lost lease never uses an attempt."""
    lease_seconds: float = setting(
        "VTS_LEASE_SECONDS",
        30.0,
        "a number of seconds 0.5-86400",
        lambda v: 0.5 <= v <= 86400,
    )
    """VTS_LEASE_SECONDS: how long a claimed job stays owned without a renewal (30)."""
    progress_interval: float = setting(
        "VTS_PROGRESS_INTERVAL",
        0.1,
        "a number of seconds 0-60",
        lambda v: 0 <= v <= 60,
    )
    """VTS_PROGRESS_INTERVAL: at most one progress write per job this often (0.1);
    a job's first report is written at once, and its outcome supersedes a report
    not yet written. 0: every report (each a write)."""
    shutdown_grace: float = setting(
        "VTS_SHUTDOWN_GRACE",
        20.0,
        "a number of seconds 0-3600",
        lambda v: 0 <= v <= 3600,
    )
    """VTS_SHUTDOWN_GRACE: on SIGTERM, how long running jobs may finish (20)."""
    retention: float = setting(
        "VTS_RETENTION",
        0.0,
        "a duration such as 30d, 12h, 90m or 3600 (seconds), at most 3650d; "
        "0 keeps jobs forever",
        lambda v: 0 <= v <= 3650 * 86400,
    )
    """VTS_RETENTION: delete final jobs this long after they finished (0: never)."""
    event_retention: float = setting(
        "VTS_EVENT_RETENTION",
        86400.0,
        "a duration such as 24h, 7d, 90m or 3600 (seconds), at most 3650d; "
        "0 keeps events forever",
        lambda v: 0 <= v <= 3650 * 86400,
    )
    """VTS_EVENT_RETENTION: keep logged job events (the resumable stream) this long
    (24h); a consumer resuming from an older event starts over."""
    request_timeout: float = setting(
        "VTS_REQUEST_TIMEOUT",
        10.0,
        "a duration such as 10s or 1m, from 0.1s to 1h",
        lambda v: 0.1 <= v <= 3600,
    )
    """VTS_REQUEST_TIMEOUT: deadline for a request's headers and body to arrive (10s)."""
    keepalive_timeout: float = setting(
        "VTS_KEEPALIVE_TIMEOUT",
        75.0,
        "a duration such as 75s or 2m, at most 1h; 0 closes after each response",
        lambda v: 0 <= v <= 3600,
    )
    """VTS_KEEPALIVE_TIMEOUT: how long an idle keep-alive connection stays open (75s)."""
    max_connections: int = setting(
        "VTS_MAX_CONNECTIONS",
        10000,
        "an integer 16-1000000",
        lambda v: 16 <= v <= 1_000_000,
    )
    """VTS_MAX_CONNECTIONS: open client connections (WebSockets included); past it a
    new one replaces the longest idle one, or, if all are busy, is answered 503 and
    closed, probes and scrapes aside (10000; lowered to fit RLIMIT_NOFILE)."""
    allow_private_urls: bool = setting(
        "VTS_ALLOW_PRIVATE_URLS",
        False,
        "true or false (also 1/0, yes/no, on/off)",
    )
    """VTS_ALLOW_PRIVATE_URLS: accept video URLs naming loopback, private, link-local
    or metadata addresses, or local names (false; the rules: vts.api.urls)."""
    webhook_timeout: float = setting(
        "VTS_WEBHOOK_TIMEOUT",
        10.0,
        "a duration such as 10s or 1m, from 0.1s to 5m",
        lambda v: 0.1 <= v <= 300,
    )
    """VTS_WEBHOOK_TIMEOUT: a webhook receiver's 2xx must come within this (10s)."""
    webhook_retry_schedule: tuple[float, ...] = setting(
        "VTS_WEBHOOK_RETRY_SCHEDULE", DEFAULT_SCHEDULE, SCHEDULE_ACCEPTED
    )
    """VTS_WEBHOOK_RETRY_SCHEDULE: waits between webhook attempts (5s,5m,...,10h)."""
    webhook_allow_private: bool = setting(
        "VTS_WEBHOOK_ALLOW_PRIVATE", False, "true or false (also 1/0, yes/no, on/off)"
    )
    """VTS_WEBHOOK_ALLOW_PRIVATE: allow http and non-public webhook hosts (false)."""
    sim_duration: SimDuration = setting(
        "VTS_SIM_DURATION",
        SimDuration(1.0, 5.0),
        "seconds as one number or min-max, e.g. 0, 2 or 1-5",
    )
    """VTS_SIM_DURATION: simulated job length in seconds, `min-max` or one number (1-5)."""
    sim_error_rate: float = setting(
        "VTS_SIM_ERROR_RATE", 0.1, "a number from 0 to 1", lambda v: 0 <= v <= 1
    )
    """VTS_SIM_ERROR_RATE: share of simulated attempts that fail (0.1)."""
    sim_seed: int | None = setting("VTS_SIM_SEED", None, "an integer")
    """VTS_SIM_SEED: makes simulated durations and failures reproducible (unset)."""
    auth: str = setting(
        "VTS_AUTH",
        "auto",
        "one of auto, none, keys",
        lambda v: v in {"auto", "none", "keys"},
    )
    """VTS_AUTH: `keys` (an API key on every request but the public ones), `none`
    (every request an admin of tenant `default`), or `auto`: none on loopback only."""
    admin_key: str | None = secret("VTS_ADMIN_KEY", 32)
    """VTS_ADMIN_KEY: a bootstrap bearer token with the admin scope (unset). Secret:
    never logged, never shown in a repr."""
    metrics_key: str | None = secret("VTS_METRICS_KEY", 16)
    """VTS_METRICS_KEY: when set, GET /metrics needs it as a bearer token (unset:
    /metrics is public). Secret."""
    tenant_max_active_jobs: int = setting(
        "VTS_TENANT_MAX_ACTIVE_JOBS",
        10000,
        "an integer 1-100000000",
        lambda v: 1 <= v <= 100_000_000,
    )
    """VTS_TENANT_MAX_ACTIVE_JOBS: a new tenant's pending + processing jobs (10000)."""
    tenant_requests_per_second: float = setting(
        "VTS_TENANT_REQUESTS_PER_SECOND",
        0.0,
        "a number 0-1000000; 0 is unlimited",
        lambda v: 0 <= v <= 1_000_000,
    )
    """VTS_TENANT_REQUESTS_PER_SECOND: requests a new tenant may make per second
    on each replica (0: unlimited)."""
    log_level: str = setting(
        "VTS_LOG_LEVEL",
        "INFO",
        "one of DEBUG, INFO, WARNING, ERROR, CRITICAL",
        lambda v: v in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"},
    )
    """VTS_LOG_LEVEL: log verbosity (INFO)."""
    event_loop: str = setting(
        "VTS_EVENT_LOOP",
        "auto",
        "one of auto, uvloop, asyncio",
        lambda v: v in {"auto", "uvloop", "asyncio"},
    )
    """VTS_EVENT_LOOP: `vts serve`'s event loop: uvloop (libuv; less CPU in the loop's
    own work), asyncio, or auto: uvloop where it is installed (auto)."""

    @property
    def auth_mode(self) -> str:
        """`none` or `keys`: VTS_AUTH with `auto` resolved by VTS_HOST."""
        if self.auth != "auto":
            return self.auth
        return "none" if is_loopback(self.host) else "keys"

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


_converter = cattrs.Converter()
_converter.register_structure_hook(SimDuration, lambda raw, _: parse_sim_duration(raw))
_converter.register_structure_hook_func(
    lambda t: t == tuple[float, ...], lambda raw, _: parse_schedule(raw)
)
_converter.register_structure_hook(
    int | None, lambda raw, _: None if raw in (None, "") else int(raw)
)


def _structure_one(field: attrs.Attribute[Any], raw: object) -> Any:
    numeric = _FIELD_TYPES[field.name] in (int, float, int | None)
    if numeric and isinstance(raw, str) and not raw.isascii():
        raise ValueError(raw)  # int() would take other scripts' digits
    if field.name == "log_level":
        return str(raw).strip().upper()
    if field.name in ("auth", "event_loop"):
        return str(raw).strip().lower()
    if field.metadata.get("secret"):
        return None if raw == "" else str(raw)
    if field.name in _DURATIONS:
        return parse_duration(raw)
    if _FIELD_TYPES[field.name] is bool:
        return parse_bool(raw)
    if isinstance(raw, str) and _FIELD_TYPES[field.name] is int:
        return int(raw.strip())
    if isinstance(raw, str) and _FIELD_TYPES[field.name] is float:
        value = float(raw.strip())
        if value != value:  # NaN
            raise ValueError(raw)
        return value
    return _converter.structure(raw, _FIELD_TYPES[field.name])


# Each field's annotation, evaluated (this module postpones annotations).
_FIELD_TYPES: dict[str, Any] = get_type_hints(Settings)

_DURATIONS = frozenset(
    "retention event_retention request_timeout keepalive_timeout webhook_timeout".split()
)


def env_names() -> dict[str, str]:
    """Field name -> environment variable."""
    return {f.name: f.metadata["env"] for f in attrs.fields(Settings)}


def load_settings(
    env: Mapping[str, str], overrides: Mapping[str, object] | None = None
) -> Settings:
    """Build Settings from the environment, with explicit options taking precedence.

    Raises InvalidSettingError naming the first bad variable and what it accepts.
    """
    values: dict[str, Any] = {}
    for field in attrs.fields(Settings):
        variable = field.metadata["env"]
        raw: object = (overrides or {}).get(field.name)
        if raw is None:
            raw = env.get(variable)
        if raw is None:
            continue
        accepted = field.metadata["accepted"]
        shown = field.metadata.get("shown")
        if field.metadata.get("secret"):
            raw_shown: object = "<hidden>"  # a bad secret is still a secret
        elif shown is not None:
            raw_shown = shown(raw)
        else:
            raw_shown = raw
        try:
            value = _structure_one(field, raw)
        except (ValueError, TypeError, cattrs.BaseValidationError):
            raise InvalidSettingError(variable, raw_shown, accepted) from None
        check = field.metadata["check"]
        if check is not None and not check(value):
            raise InvalidSettingError(variable, raw_shown, accepted)
        values[field.name] = value
    return Settings(**values)
