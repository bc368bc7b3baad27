"""The WebhookStore of the SQLite store: endpoints and the deliveries' listing and
manual retries (the outbox itself: sqlite_outbox.py). Times as epoch seconds; every
change one transaction of its own on the writer thread, between group commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from vts.codec import epoch
from vts.idempotency import IdempotencyClaim
from vts.stores.sqlite_keys import _in_transaction
from vts.stores.store_parts import SqliteParts
from vts.stores.webhook_rows import (
    DELIVERY_COLUMNS,
    ENDPOINT_COLUMNS,
    IDEMPOTENCY_COLUMNS,
    delivery_from_row,
    endpoint_from_row,
    endpoint_values,
    idempotency_values,
    placeholders,
    replayed,
)
from vts.webhooks.model import Delivery, DeliveryStatus, Endpoint

T = TypeVar("T")

# The first endpoint: the dispatcher had none to serve and skipped the log, so its
# cursor starts at the log's end (history before any endpoint goes nowhere).
SKIP_HISTORY_SQL = (
    "UPDATE webhook_cursor SET seq = (SELECT coalesce(max(seq), 0) FROM job_events)"
    " WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints)"
)


def _time(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _endpoint(row: Sequence[Any]) -> Endpoint:
    return endpoint_from_row(row, _time)


def _delivery(row: Sequence[Any]) -> Delivery:
    return delivery_from_row(row, _time)


class SqliteWebhooks(SqliteParts):
    """WebhookStore methods (see vts.webhooks.port)."""

    async def _hook_write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        async with self._errors():
            return await self._in_writer(_in_transaction, self._w, fn)

    async def _hook_read(self, sql: str, *params: Any) -> list[Any]:
        async with self._errors():
            return list(await self._r.execute_fetchall(sql, params))

    async def create_endpoint(
        self, endpoint: Endpoint, idempotency: IdempotencyClaim | None = None
    ) -> tuple[Endpoint, bool]:
        key, fingerprint = idempotency_values(endpoint, idempotency)
        values = (*endpoint_values(endpoint, epoch), key, fingerprint)
        sql = (
            f"INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, {IDEMPOTENCY_COLUMNS})"
            f" VALUES ({placeholders(len(values), '?')})"
        )

        def insert(conn: sqlite3.Connection) -> Any:
            if key is not None:
                taken = conn.execute(
                    f"SELECT fingerprint, {ENDPOINT_COLUMNS} FROM webhook_endpoints"
                    " WHERE idempotency_key = ?",
                    (key,),
                ).fetchone()
                if taken is not None:
                    return taken
            conn.execute(SKIP_HISTORY_SQL)
            conn.execute(sql, values)
            return None

        taken = await self._hook_write(insert)
        if taken is None:
            return endpoint, True
        assert idempotency is not None
        return replayed(idempotency, taken[0], _endpoint(taken[1:]))

    async def endpoints_exist(self) -> bool:
        return bool(await self._hook_read("SELECT 1 FROM webhook_endpoints LIMIT 1"))

    async def get_endpoint(
        self, endpoint_id: str, *, tenant: str | None
    ) -> Endpoint | None:
        rows = await self._hook_read(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
            " WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)",
            endpoint_id,
            tenant,
        )
        return _endpoint(rows[0]) if rows else None

    async def list_endpoints(self, *, tenant: str | None) -> list[Endpoint]:
        rows = await self._hook_read(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
            " WHERE ?1 IS NULL OR tenant = ?1 ORDER BY created_at, id",
            tenant,
        )
        return [_endpoint(r) for r in rows]

    async def delete_endpoint(self, endpoint_id: str, *, tenant: str | None) -> bool:
        def delete(conn: sqlite3.Connection) -> bool:
            gone = conn.execute(
                "DELETE FROM webhook_endpoints WHERE id = ?1"
                " AND (?2 IS NULL OR tenant = ?2)",
                (endpoint_id, tenant),
            ).rowcount
            if gone:
                conn.execute(
                    "DELETE FROM webhook_deliveries WHERE endpoint_id = ?",
                    (endpoint_id,),
                )
            return bool(gone)

        return await self._hook_write(delete)

    async def rotate_secret(
        self,
        endpoint_id: str,
        secret: str,
        previous_expires_at: datetime,
        *,
        tenant: str | None,
    ) -> Endpoint | None:
        def rotate(conn: sqlite3.Connection) -> list[Any]:
            return conn.execute(
                "UPDATE webhook_endpoints SET previous_secret = secret, secret = ?3,"
                " previous_secret_expires_at = ?4"
                " WHERE id = ?1 AND (?2 IS NULL OR tenant = ?2)"
                f" RETURNING {ENDPOINT_COLUMNS}",
                (endpoint_id, tenant, secret, epoch(previous_expires_at)),
            ).fetchall()

        rows = await self._hook_write(rotate)
        return _endpoint(rows[0]) if rows else None

    async def list_deliveries(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[Delivery]:
        rows = await self._hook_read(
            f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries"
            " WHERE endpoint_id = ?1 AND (?2 IS NULL OR status = ?2)"
            " AND (?3 IS NULL OR event_seq < ?3) ORDER BY event_seq DESC LIMIT ?4",
            endpoint_id,
            None if status is None else status.value,
            before,
            limit,
        )
        return [_delivery(r) for r in rows]

    async def retry_delivery(
        self, endpoint_id: str, delivery_id: str, now: datetime
    ) -> Delivery | None:
        def retry(conn: sqlite3.Connection) -> list[Any]:
            rows = conn.execute(
                "UPDATE webhook_deliveries SET status = 'pending',"
                " next_attempt_at = ?3, schedule_base = attempts,"
                " claimed_until = NULL, updated_at = ?3"
                f" WHERE id = ?1 AND endpoint_id = ?2 RETURNING {DELIVERY_COLUMNS}",
                (delivery_id, endpoint_id, epoch(now)),
            ).fetchall()
            if rows:
                conn.execute(
                    "UPDATE webhook_endpoints SET disabled_at = NULL,"
                    " disabled_reason = NULL, failing_since = NULL,"
                    " exhausted_streak = 0 WHERE id = ? AND disabled_at IS NOT NULL",
                    (endpoint_id,),
                )
            return rows

        rows = await self._hook_write(retry)
        return _delivery(rows[0]) if rows else None
