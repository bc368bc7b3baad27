"""API keys and tenants as table rows, for every store: the columns, in order, and
the conversions both ways. A store passes how it keeps a time (SQLite: epoch
seconds; Postgres: timestamptz, as is)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from vts.apikeys import ApiKey, Tenant

KEY_COLUMNS = (
    "id, tenant, scopes, secret_hash, created_at, expires_at, revoked_at, last_used_at"
)
TENANT_COLUMNS = "name, max_active_jobs, requests_per_second, created_at"

ToRow = Callable[[datetime | None], Any]
FromRow = Callable[[Any], datetime | None]


def _same(value: Any) -> Any:
    return value


def key_values(key: ApiKey, time: ToRow = _same) -> tuple[Any, ...]:
    """The key's row, in KEY_COLUMNS order (scopes space-separated, sorted)."""
    return (
        key.id,
        key.tenant,
        " ".join(sorted(key.scopes)),
        key.secret_hash,
        time(key.created_at),
        time(key.expires_at),
        time(key.revoked_at),
        time(key.last_used_at),
    )


def key_from_row(row: Sequence[Any], time: FromRow = _same) -> ApiKey:
    created = time(row[4])
    assert created is not None
    return ApiKey(
        id=row[0],
        tenant=row[1],
        scopes=frozenset(row[2].split()),
        secret_hash=row[3],
        created_at=created,
        expires_at=time(row[5]),
        revoked_at=time(row[6]),
        last_used_at=time(row[7]),
    )


def tenant_values(tenant: Tenant, time: ToRow = _same) -> tuple[Any, ...]:
    """The tenant's row, in TENANT_COLUMNS order."""
    return (
        tenant.name,
        tenant.max_active_jobs,
        tenant.requests_per_second,
        time(tenant.created_at),
    )


def tenant_from_row(row: Sequence[Any], time: FromRow = _same) -> Tenant:
    created = time(row[3])
    assert created is not None
    return Tenant(row[0], row[1], row[2], created)
