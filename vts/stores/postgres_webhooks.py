"""The WebhookStore of the Postgres store: endpoints and the deliveries' listing and
manual retries (the outbox itself: postgres_outbox.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vts.errors import ConflictError
from vts.idempotency import IdempotencyClaim
from vts.stores.store_parts import PostgresParts
from vts.stores.webhook_rows import (
    DELIVERY_COLUMNS,
    DELIVERY_WIDTH,
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

if TYPE_CHECKING:
    pass

# The first endpoint: the dispatcher had none to serve and skipped the log, so its
# cursor starts at the log's end (history before any endpoint goes nowhere).
SKIP_HISTORY_SQL = (
    "UPDATE webhook_cursor SET seq = (SELECT coalesce(max(seq), 0) FROM job_events)"
    " WHERE NOT EXISTS (SELECT 1 FROM webhook_endpoints)"
)
_SCOPED = "id = $1 AND ($2::text IS NULL OR tenant = $2)"


def _pair(row: Sequence[Any]) -> tuple[Delivery, Endpoint]:
    values = list(row)
    return (
        delivery_from_row(values[:DELIVERY_WIDTH]),
        endpoint_from_row(values[DELIVERY_WIDTH:]),
    )


KEY_RACE_TRIES = 5
"""Inserts tried while the endpoint holding the key is deleted between the conflict
and its read (each try waits for the other transaction)."""


class PostgresWebhooks(PostgresParts):
    """WebhookStore methods on the store's pool (see vts.webhooks.port)."""

    async def create_endpoint(
        self, endpoint: Endpoint, idempotency: IdempotencyClaim | None = None
    ) -> tuple[Endpoint, bool]:
        key, fingerprint = idempotency_values(endpoint, idempotency)
        values = (*endpoint_values(endpoint), key, fingerprint)
        insert = (
            f"INSERT INTO webhook_endpoints ({ENDPOINT_COLUMNS}, {IDEMPOTENCY_COLUMNS})"
            f" VALUES ({placeholders(len(values), '$')})"
            " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"
        )
        taken = (
            f"SELECT fingerprint, {ENDPOINT_COLUMNS} FROM webhook_endpoints"
            " WHERE idempotency_key = $1"
        )
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            await conn.execute(SKIP_HISTORY_SQL)
            # A conflict waits for the transaction holding the key to end; the
            # SELECT (a new snapshot) then sees its endpoint, unless that was
            # deleted since: then the key is free again.
            for _ in range(KEY_RACE_TRIES):
                if await conn.fetchval(insert, *values) is not None:
                    return endpoint, True
                row = await conn.fetchrow(taken, key)
                if row is not None:
                    break
            else:  # the key's endpoint keeps being made and deleted meanwhile
                raise ConflictError(
                    "another request with this Idempotency-Key is being made; retry"
                )
        assert idempotency is not None
        return replayed(idempotency, row[0], endpoint_from_row(list(row)[1:]))

    async def endpoints_exist(self) -> bool:
        async with self._errors():
            found = await self.pool.fetchval("SELECT 1 FROM webhook_endpoints LIMIT 1")
        return found is not None

    async def get_endpoint(
        self, endpoint_id: str, *, tenant: str | None
    ) -> Endpoint | None:
        async with self._errors():
            row = await self.pool.fetchrow(
                f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE {_SCOPED}",
                endpoint_id,
                tenant,
            )
        return None if row is None else endpoint_from_row(row)

    async def list_endpoints(self, *, tenant: str | None) -> list[Endpoint]:
        async with self._errors():
            rows = await self.pool.fetch(
                f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
                " WHERE $1::text IS NULL OR tenant = $1 ORDER BY created_at, id",
                tenant,
            )
        return [endpoint_from_row(r) for r in rows]

    async def delete_endpoint(self, endpoint_id: str, *, tenant: str | None) -> bool:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            status: str = await conn.execute(
                f"DELETE FROM webhook_endpoints WHERE {_SCOPED}", endpoint_id, tenant
            )
            if status.endswith(" 0"):
                return False
            await conn.execute(
                "DELETE FROM webhook_deliveries WHERE endpoint_id = $1", endpoint_id
            )
        return True

    async def rotate_secret(
        self,
        endpoint_id: str,
        secret: str,
        previous_expires_at: datetime,
        *,
        tenant: str | None,
    ) -> Endpoint | None:
        async with self._errors():
            row = await self.pool.fetchrow(
                "UPDATE webhook_endpoints SET previous_secret = secret, secret = $3,"
                f" previous_secret_expires_at = $4 WHERE {_SCOPED}"
                f" RETURNING {ENDPOINT_COLUMNS}",
                endpoint_id,
                tenant,
                secret,
                previous_expires_at,
            )
        return None if row is None else endpoint_from_row(row)

    async def list_deliveries(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[Delivery]:
        async with self._errors():
            rows = await self.pool.fetch(
                f"SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries"
                " WHERE endpoint_id = $1 AND ($2::text IS NULL OR status = $2)"
                " AND ($3::bigint IS NULL OR event_seq < $3)"
                " ORDER BY event_seq DESC LIMIT $4",
                endpoint_id,
                None if status is None else status.value,
                before,
                limit,
            )
        return [delivery_from_row(r) for r in rows]

    async def retry_delivery(
        self, endpoint_id: str, delivery_id: str, now: datetime
    ) -> Delivery | None:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "UPDATE webhook_deliveries SET status = 'pending',"
                " next_attempt_at = $3, schedule_base = attempts,"
                " claimed_until = NULL, updated_at = $3"
                f" WHERE id = $1 AND endpoint_id = $2 RETURNING {DELIVERY_COLUMNS}",
                delivery_id,
                endpoint_id,
                now,
            )
            if row is not None:
                await conn.execute(
                    "UPDATE webhook_endpoints SET disabled_at = NULL,"
                    " disabled_reason = NULL, failing_since = NULL,"
                    " exhausted_streak = 0 WHERE id = $1 AND disabled_at IS NOT NULL",
                    endpoint_id,
                )
        return None if row is None else delivery_from_row(row)
