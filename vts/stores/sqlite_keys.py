"""The KeyStore of the SQLite store: API keys and tenants, times as epoch seconds."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from vts.apikeys import ApiKey, Tenant
from vts.codec import epoch
from vts.stores.idempotency import scoped_key
from vts.stores.key_rows import (
    KEY_COLUMNS,
    TENANT_COLUMNS,
    key_from_row,
    key_values,
    tenant_from_row,
    tenant_values,
)
from vts.stores.store_parts import SqliteParts

T = TypeVar("T")
ACTIVE_JOBS_SQL = (
    "SELECT count(*) FROM jobs INDEXED BY jobs_tenant_status"
    " WHERE tenant = ? AND status IN ('pending', 'processing')"
)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _key(row: Sequence[Any]) -> ApiKey:
    return key_from_row(row, _time)


def _tenant(row: Sequence[Any]) -> Tenant:
    return tenant_from_row(row, _time)


def _in_transaction(
    conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], T]
) -> T:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return result


class SqliteKeys(SqliteParts):
    """KeyStore methods; reads on the reader connection, the rare writes each in a
    transaction of their own on the writer thread (between group commits)."""

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._errors():
            return await self._in_writer(_in_transaction, self._w, fn)

    async def _read(self, sql: str, *params: Any) -> list[Any]:
        async with self._errors():
            return list(await self._r.execute_fetchall(sql, params))

    async def create_key(self, key: ApiKey, tenant: Tenant) -> None:
        def insert(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT OR IGNORE INTO tenants ({TENANT_COLUMNS}) VALUES (?,?,?,?)",
                tenant_values(tenant, epoch),
            )
            conn.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?)",
                key_values(key, epoch),
            )

        await self._write(insert)

    async def get_key(self, key_id: str) -> ApiKey | None:
        rows = await self._read(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = ?", key_id
        )
        return _key(rows[0]) if rows else None

    async def list_keys(self, tenant: str | None) -> list[ApiKey]:
        rows = await self._read(
            f"SELECT {KEY_COLUMNS} FROM api_keys WHERE ?1 IS NULL OR tenant = ?1"
            " ORDER BY created_at, id",
            tenant,
        )
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        def revoke(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?)"
                f" WHERE id = ? RETURNING {KEY_COLUMNS}",
                (epoch(at), key_id),
            ).fetchall()

        rows = await self._write(revoke)
        return _key(rows[0]) if rows else None

    async def record_key_use(self, used: Mapping[str, datetime]) -> None:
        if not used:
            return
        rows = [(epoch(at), key_id) for key_id, at in used.items()]

        def touch(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?)"
                " WHERE id = ?",
                rows,
            )

        await self._write(touch)

    async def has_usable_key(self, now: datetime) -> bool:
        rows = await self._read(
            "SELECT 1 FROM api_keys WHERE revoked_at IS NULL"
            " AND (expires_at IS NULL OR expires_at > ?) LIMIT 1",
            epoch(now),
        )
        return bool(rows)

    async def put_tenant(self, tenant: Tenant) -> Tenant:
        def upsert(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                f"INSERT INTO tenants ({TENANT_COLUMNS}) VALUES (?,?,?,?)"
                " ON CONFLICT (name) DO UPDATE SET"
                " max_active_jobs = excluded.max_active_jobs,"
                " requests_per_second = excluded.requests_per_second"
                f" RETURNING {TENANT_COLUMNS}",
                tenant_values(tenant, epoch),
            ).fetchall()

        return _tenant((await self._write(upsert))[0])

    async def get_tenant(self, name: str) -> Tenant | None:
        rows = await self._read(
            f"SELECT {TENANT_COLUMNS} FROM tenants WHERE name = ?", name
        )
        return _tenant(rows[0]) if rows else None

    async def list_tenants(self) -> list[Tenant]:
        rows = await self._read(f"SELECT {TENANT_COLUMNS} FROM tenants ORDER BY name")
        return [_tenant(r) for r in rows]

    async def count_active_jobs(self, tenant: str) -> int:
        rows = await self._read(ACTIVE_JOBS_SQL, tenant)
        return int(rows[0][0])

    async def has_idempotency_key(self, tenant: str, key: str) -> bool:
        rows = await self._read(
            "SELECT 1 FROM jobs WHERE idempotency_key = ?", scoped_key(tenant, key)
        )
        return bool(rows)
