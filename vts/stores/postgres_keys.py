"""The KeyStore of the Postgres store: API keys and tenants."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from vts.apikeys import ApiKey, Tenant
from vts.stores.idempotency import scoped_key
from vts.stores.key_rows import (
    KEY_COLUMNS,
    TENANT_COLUMNS,
    key_from_row,
    key_values,
    tenant_from_row,
    tenant_values,
)
from vts.stores.store_parts import PostgresParts

if TYPE_CHECKING:
    pass


class PostgresKeys(PostgresParts):
    """KeyStore methods on the store's pool; each write is one statement or one
    transaction (keys change rarely: no batching)."""

    async def create_key(self, key: ApiKey, tenant: Tenant) -> None:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                f"INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (name) DO NOTHING",
                *tenant_values(tenant),
            )
            await conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS})"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                *key_values(key),
            )

    async def get_key(self, key_id: str) -> ApiKey | None:
        async with self._errors():
            row = await self.pool.fetchrow(
                f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id
            )
        return None if row is None else key_from_row(row)

    async def list_keys(self, tenant: str | None) -> list[ApiKey]:
        async with self._errors():
            rows = await self.pool.fetch(
                f"SELECT {KEY_COLUMNS} FROM api_keys"
                " WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_at, id",
                tenant,
            )
        return [key_from_row(r) for r in rows]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        async with self._errors():
            row = await self.pool.fetchrow(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2)"
                f" WHERE id = $1 RETURNING {KEY_COLUMNS}",
                key_id,
                at,
            )
        return None if row is None else key_from_row(row)

    async def record_key_use(self, used: Mapping[str, datetime]) -> None:
        if not used:
            return
        async with self._errors():
            await self.pool.execute(
                "UPDATE api_keys SET last_used_at ="
                " GREATEST(api_keys.last_used_at, u.at)"
                " FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at)"
                " WHERE api_keys.id = u.id",
                list(used),
                list(used.values()),
            )

    async def has_usable_key(self, now: datetime) -> bool:
        async with self._errors():
            found = await self.pool.fetchval(
                "SELECT EXISTS (SELECT 1 FROM api_keys WHERE revoked_at IS NULL"
                " AND (expires_at IS NULL OR expires_at > $1))",
                now,
            )
        return bool(found)

    async def put_tenant(self, tenant: Tenant) -> Tenant:
        async with self._errors():
            row = await self.pool.fetchrow(
                f"INSERT INTO tenants ({TENANT_COLUMNS}) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (name) DO UPDATE SET"
                " max_active_jobs = excluded.max_active_jobs,"
                " requests_per_second = excluded.requests_per_second"
                f" RETURNING {TENANT_COLUMNS}",
                *tenant_values(tenant),
            )
        return tenant_from_row(row)

    async def get_tenant(self, name: str) -> Tenant | None:
        async with self._errors():
            row = await self.pool.fetchrow(
                f"SELECT {TENANT_COLUMNS} FROM tenants WHERE name = $1", name
            )
        return None if row is None else tenant_from_row(row)

    async def list_tenants(self) -> list[Tenant]:
        async with self._errors():
            rows = await self.pool.fetch(
                f"SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name"
            )
        return [tenant_from_row(r) for r in rows]

    async def count_active_jobs(self, tenant: str) -> int:
        async with self._errors():
            count = await self.pool.fetchval(
                "SELECT count(*) FROM jobs"
                " WHERE tenant = $1 AND status IN ('pending', 'processing')",
                tenant,
            )
        return int(count)

    async def has_idempotency_key(self, tenant: str, key: str) -> bool:
        async with self._errors():
            found = await self.pool.fetchval(
                "SELECT 1 FROM jobs WHERE idempotency_key = $1", scoped_key(tenant, key)
            )
        return found is not None
