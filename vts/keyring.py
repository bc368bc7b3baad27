"""Issuing, listing and revoking API keys and tenants: shared by the admin API and CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from vts.apikeys import SCOPES, TENANT_RULE, ApiKey, Tenant, is_tenant_name, new_key
from vts.config import Settings
from vts.errors import ValidationError
from vts.ports import KeyStore

MAX_KEY_LIFETIME = 999 * 86400.0
"""999d: what `expires_in` of POST /admin/keys can say (up to 3 digits and a unit)."""


def check_key_request(
    tenant: object, scopes: object, expires_in: float | None
) -> tuple[str, list[str]]:
    """(tenant, scopes) if they make a valid key; ValidationError naming every bad
    field otherwise."""
    problems: dict[str, str] = {}
    if not isinstance(tenant, str) or not is_tenant_name(tenant):
        problems["tenant"] = TENANT_RULE
    if (
        not isinstance(scopes, list)
        or not scopes
        or not all(isinstance(s, str) and s in SCOPES for s in scopes)
        or len(set(scopes)) != len(scopes)
    ):
        problems["scopes"] = (
            f"must be a non-empty list of distinct scopes: {', '.join(SCOPES)}"
        )
    if expires_in is not None and not 0 < expires_in <= MAX_KEY_LIFETIME:
        problems["expires_in"] = "must be a lifetime from 1s to 999d, such as 90d"
    if problems:
        raise ValidationError(errors=problems)
    assert isinstance(tenant, str) and isinstance(scopes, list)
    return tenant, sorted(set(scopes))


def default_tenant(name: str, settings: Settings, now: datetime) -> Tenant:
    """A tenant with the default quotas (VTS_TENANT_*)."""
    return Tenant(
        name,
        settings.tenant_max_active_jobs,
        settings.tenant_requests_per_second,
        now,
    )


async def issue_key(
    store: KeyStore,
    settings: Settings,
    tenant: str,
    scopes: Sequence[str],
    expires_in: float | None,
    now: datetime,
) -> tuple[ApiKey, str]:
    """Create a key (and its tenant, with the default quotas, if it has none);
    return it and its token, which nobody can see again."""
    expires_at = None if expires_in is None else now + timedelta(seconds=expires_in)
    key, token = new_key(tenant, scopes, now, expires_at)
    await store.create_key(key, default_tenant(tenant, settings, now))
    return key, token
