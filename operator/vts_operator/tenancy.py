"""Which vts tenant a TranslationJob's job belongs to: pure functions, no I/O.

Namespaces are tenants: a resource in namespace `team-a` makes its job in tenant
`team-a` (the operator's admin key sends `VTS-Tenant: team-a`), unless the settings
name a fixed tenant or map that namespace to another one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from vts_operator.mapping import SpecError

TENANT = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""vts tenant names. Every Kubernetes namespace name (a DNS label) is one."""

TENANT_RULE = (
    "lowercase letters, digits and '-', starting with a letter or digit, at most 63"
)
"""What TENANT allows, for the messages that refuse a name."""

DEFAULT_TENANT = "default"
"""The tenant of a resource without a namespace (the CRD is namespaced, so none)."""


def is_tenant(name: str) -> bool:
    return TENANT.fullmatch(name) is not None


def parse_tenant_map(text: str) -> dict[str, str]:
    """`ns-a=tenant-a, ns-b=tenant-b` -> {"ns-a": "tenant-a", "ns-b": "tenant-b"}.

    ValueError names the first entry that is not `namespace=tenant` with both sides
    valid names, or a namespace given twice.
    """
    mapping: dict[str, str] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        namespace, equals, tenant = (side.strip() for side in entry.partition("="))
        if not equals or not is_tenant(namespace) or not is_tenant(tenant):
            raise ValueError(f"{entry!r} is not namespace=tenant ({TENANT_RULE})")
        if namespace in mapping:
            raise ValueError(f"namespace {namespace!r} is mapped twice")
        mapping[namespace] = tenant
    return mapping


def tenant_for(
    namespace: str | None,
    *,
    fixed: str | None = None,
    overrides: Mapping[str, str] | None = None,
) -> str:
    """The tenant of a resource in `namespace`: its entry in `overrides`, else the
    `fixed` tenant, else the namespace itself.

    SpecError if that is not a valid tenant name (a namespace always is).
    """
    tenant = (overrides or {}).get(namespace or "") or fixed or namespace
    tenant = tenant or DEFAULT_TENANT
    if not is_tenant(tenant):
        raise SpecError(f"{tenant!r} is not a valid vts tenant name")
    return tenant
