"""The outbox of the Postgres store, shared by every replica: the dispatch cursor is
one row taken `FOR UPDATE SKIP LOCKED` (one replica moves it at a time; the log, the
deliveries and the cursor commit together), and due deliveries are claimed the same
way, under a lease that brings a crashed replica's claims back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from vts.domain import JobStatus
from vts.snapshot import Snapshot
from vts.stores.postgres_webhooks import PostgresWebhooks
from vts.stores.webhook_rows import (
    DELIVERY_COLUMNS,
    DELIVERY_COLUMNS_D,
    DELIVERY_WIDTH,
    ENDPOINT_COLUMNS,
    ENDPOINT_COLUMNS_E,
    Recorded,
    apply_attempts,
    delivery_values,
    disabled_error,
    endpoint_from_row,
    pairs_from_rows,
    placeholders,
)
from vts.webhooks.model import Delivery, Endpoint
from vts.webhooks.port import Apply, Pick, Plan, WebhookCounts

if TYPE_CHECKING:
    pass

_SCOPED = "id = $1 AND ($2::text IS NULL OR tenant = $2)"


# SKIP LOCKED: rows another replica's sender is pruning are left to it.
_PURGE = (
    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
    " WHERE status != 'pending' AND updated_at < $1"
    " ORDER BY updated_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
)
_DUE = (
    "SELECT d.id, d.endpoint_id"
    " FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= $1"
    " AND (d.claimed_until IS NULL OR d.claimed_until < $1)"
    " AND e.disabled_at IS NULL AND NOT (d.endpoint_id = ANY($2::text[]))"
    " ORDER BY d.next_attempt_at LIMIT $3 FOR UPDATE OF d SKIP LOCKED"
)
_CLAIM = (
    "WITH claimed AS (UPDATE webhook_deliveries SET claimed_until = $1"
    " WHERE id = ANY($2::text[]) RETURNING *)"
    f" SELECT {DELIVERY_COLUMNS_D}, {ENDPOINT_COLUMNS_E} FROM claimed d"
    " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
)
_INSERT_DELIVERY = (
    f"INSERT INTO webhook_deliveries ({DELIVERY_COLUMNS})"
    f" VALUES ({placeholders(DELIVERY_WIDTH, '$')})"
    " ON CONFLICT (endpoint_id, event_seq) DO NOTHING"
)
_PAIRS = (
    f"SELECT {DELIVERY_COLUMNS_D}, {ENDPOINT_COLUMNS_E} FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = ANY($1::text[])"
    " ORDER BY e.id, d.id FOR UPDATE OF d, e"
)


class PostgresOutbox(PostgresWebhooks):
    """WebhookStore outbox methods (see vts.webhooks.port)."""

    async def dispatch_events(
        self, limit: int, plan: Plan
    ) -> tuple[int, list[Delivery]] | None:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            after = await conn.fetchval(
                "SELECT seq FROM webhook_cursor FOR UPDATE SKIP LOCKED"
            )
            if after is None:
                return None
            rows = await conn.fetch(
                "SELECT seq, job_id, tenant, version, status, body FROM job_events"
                " WHERE seq > $1 ORDER BY seq LIMIT $2",
                after,
                limit,
            )
            if not rows:
                return 0, []
            events = [
                (
                    r["seq"],
                    Snapshot(
                        r["job_id"],
                        r["tenant"],
                        r["version"],
                        JobStatus(r["status"]),
                        bytes(r["body"]),
                    ),
                )
                for r in rows
            ]
            tenants = sorted({s.tenant for _, s in events})
            endpoints = [
                endpoint_from_row(r)
                for r in await conn.fetch(
                    f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints"
                    " WHERE disabled_at IS NULL AND tenant = ANY($1::text[])",
                    tenants,
                )
            ]
            deliveries = plan(events, endpoints) if endpoints else []
            if deliveries:
                await conn.executemany(
                    _INSERT_DELIVERY, [delivery_values(d) for d in deliveries]
                )
            await conn.execute("UPDATE webhook_cursor SET seq = $1", events[-1][0])
        return len(events), deliveries

    async def claim_deliveries(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        busy: Sequence[str],
        pick: Pick,
    ) -> list[tuple[Delivery, Endpoint]]:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            due = await conn.fetch(_DUE, now, list(busy), limit)
            taken = [
                delivery_id for delivery_id, _ in pick([(r[0], r[1]) for r in due])
            ]
            if not taken:
                return []
            found = pairs_from_rows(await conn.fetch(_CLAIM, lease_until, taken))
        return [found[delivery_id] for delivery_id in taken]

    async def record_attempts(
        self, attempts: Sequence[tuple[str, Apply]]
    ) -> list[Recorded]:
        if not attempts:
            return []
        ids = [delivery_id for delivery_id, _ in attempts]
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            # One statement locks every row, in one order (endpoint, delivery) for
            # every replica: two batches cannot deadlock.
            found = pairs_from_rows(await conn.fetch(_PAIRS, ids))
            results, deliveries, endpoints, disabled = apply_attempts(found, attempts)
            await conn.executemany(
                "UPDATE webhook_deliveries SET status = $2, attempts = $3,"
                " next_attempt_at = $4, last_status = $5, last_response = $6,"
                " last_error = $7, updated_at = $8, claimed_until = NULL"
                " WHERE id = $1",
                [
                    (
                        d.id,
                        d.status.value,
                        d.attempts,
                        d.next_attempt_at,
                        d.last_status,
                        d.last_response,
                        d.last_error,
                        d.updated_at,
                    )
                    for d in deliveries
                ],
            )
            await conn.executemany(
                "UPDATE webhook_endpoints SET disabled_at = $2, disabled_reason = $3,"
                " failing_since = $4, exhausted_streak = $5 WHERE id = $1",
                [
                    (
                        e.id,
                        e.disabled_at,
                        e.disabled_reason,
                        e.failing_since,
                        e.exhausted_streak,
                    )
                    for e in endpoints
                ],
            )
            if disabled:
                await conn.executemany(
                    "UPDATE webhook_deliveries SET status = 'failed',"
                    " next_attempt_at = NULL, last_error = $2, updated_at = $3"
                    " WHERE endpoint_id = $1 AND status = 'pending'",
                    [(e.id, disabled_error(e), e.disabled_at) for e in disabled],
                )
        return results

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        async with self._errors():
            status: str = await self.pool.execute(_PURGE, before, limit)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"

    async def next_delivery_due(self, busy: Sequence[str]) -> datetime | None:
        async with self._errors():
            value: datetime | None = await self.pool.fetchval(
                "SELECT min(GREATEST(d.next_attempt_at, d.claimed_until))"
                " FROM webhook_deliveries d"
                " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
                " WHERE d.status = 'pending' AND e.disabled_at IS NULL"
                " AND NOT (d.endpoint_id = ANY($1::text[]))",
                list(busy),
            )
        return value

    async def webhook_counts(self) -> WebhookCounts:
        async with self._errors():
            row = await self.pool.fetchrow(
                "SELECT (SELECT count(*) FROM webhook_deliveries"
                " WHERE status = 'pending'),"
                " (SELECT count(*) FROM webhook_endpoints"
                " WHERE disabled_at IS NOT NULL),"
                " (SELECT CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints)"
                " THEN GREATEST(0, coalesce((SELECT max(seq) FROM job_events), 0)"
                " - (SELECT seq FROM webhook_cursor)) ELSE 0 END)"
            )
        assert row is not None
        return WebhookCounts(*(int(n) for n in row))
