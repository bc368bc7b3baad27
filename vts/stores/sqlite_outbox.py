"""The outbox of the SQLite store: the dispatcher's step (read the log after the
cursor, insert the deliveries, move the cursor: one transaction on the writer
thread), the senders' claims under a lease, and recorded attempts."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar

from vts.codec import epoch
from vts.stores.sqlite_events import event_from_row
from vts.stores.sqlite_webhooks import SqliteWebhooks, _endpoint, _time
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
    pairs_from_rows,
    placeholders,
)
from vts.webhooks.model import Delivery, Endpoint
from vts.webhooks.port import Apply, Pick, Plan, WebhookCounts

T = TypeVar("T")


_PURGE = (
    "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries"
    " INDEXED BY webhook_deliveries_finished WHERE status != 'pending'"
    " AND updated_at < ? ORDER BY updated_at LIMIT ?)"
)
_DUE = (
    "SELECT d.id, d.endpoint_id FROM webhook_deliveries d"
    " INDEXED BY webhook_deliveries_due"
    " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
    " WHERE d.status = 'pending' AND d.next_attempt_at <= ?"
    " AND (d.claimed_until IS NULL OR d.claimed_until < ?)"
    " AND e.disabled_at IS NULL{busy} ORDER BY d.next_attempt_at LIMIT ?"
)
_PAIRS = (
    f"SELECT {DELIVERY_COLUMNS_D}, {ENDPOINT_COLUMNS_E} FROM webhook_deliveries d"
    " JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id IN ({ids})"
)
_INSERT_DELIVERY = (
    f"INSERT OR IGNORE INTO webhook_deliveries ({DELIVERY_COLUMNS})"
    f" VALUES ({placeholders(DELIVERY_WIDTH, '?')})"
)


class SqliteOutbox(SqliteWebhooks):
    """WebhookStore outbox methods (see vts.webhooks.port)."""

    async def dispatch_events(
        self, limit: int, plan: Plan
    ) -> tuple[int, list[Delivery]] | None:
        return await self._hook_write(lambda conn: _dispatch(conn, limit, plan))

    async def claim_deliveries(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        busy: Sequence[str],
        pick: Pick,
    ) -> list[tuple[Delivery, Endpoint]]:
        def claim(conn: sqlite3.Connection) -> list[tuple[Delivery, Endpoint]]:
            busy_sql = f" AND d.endpoint_id NOT IN ({placeholders(len(busy), '?')})"
            sql = _DUE.format(busy=busy_sql if busy else "")
            due = conn.execute(sql, (epoch(now), epoch(now), *busy, limit)).fetchall()
            taken = [delivery_id for delivery_id, _ in pick(due)]
            if not taken:
                return []
            conn.executemany(
                "UPDATE webhook_deliveries SET claimed_until = ? WHERE id = ?",
                [(epoch(lease_until), delivery_id) for delivery_id in taken],
            )
            found = _pairs(conn, taken)
            return [found[delivery_id] for delivery_id in taken]

        return await self._hook_write(claim)

    async def record_attempts(
        self, attempts: Sequence[tuple[str, Apply]]
    ) -> list[Recorded]:
        if not attempts:
            return []
        return await self._hook_write(lambda conn: _record(conn, attempts))

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        def purge(conn: sqlite3.Connection) -> int:
            return conn.execute(_PURGE, (epoch(before), limit)).rowcount

        return await self._hook_write(purge)

    async def next_delivery_due(self, busy: Sequence[str]) -> datetime | None:
        rows = await self._hook_read(
            "SELECT min(max(d.next_attempt_at, coalesce(d.claimed_until, 0)))"
            " FROM webhook_deliveries d"
            " INDEXED BY webhook_deliveries_due"
            " JOIN webhook_endpoints e ON e.id = d.endpoint_id"
            " WHERE d.status = 'pending' AND e.disabled_at IS NULL"
            f" AND d.endpoint_id NOT IN ({placeholders(len(busy), '?')})",
            *busy,
        )
        return _time(rows[0][0]) if rows else None

    async def webhook_counts(self) -> WebhookCounts:
        rows = await self._hook_read(
            "SELECT (SELECT count(*) FROM webhook_deliveries"
            " INDEXED BY webhook_deliveries_due WHERE status = 'pending'),"
            " (SELECT count(*) FROM webhook_endpoints"
            " WHERE disabled_at IS NOT NULL),"
            " (SELECT CASE WHEN EXISTS (SELECT 1 FROM webhook_endpoints)"
            " THEN max(0, coalesce((SELECT max(seq) FROM job_events), 0)"
            " - (SELECT seq FROM webhook_cursor WHERE id = 1)) ELSE 0 END)"
        )
        return WebhookCounts(*(int(n) for n in rows[0]))


def _dispatch(
    conn: sqlite3.Connection, limit: int, plan: Plan
) -> tuple[int, list[Delivery]]:
    (after,) = conn.execute("SELECT seq FROM webhook_cursor WHERE id = 1").fetchone()
    events = [
        event_from_row(r)
        for r in conn.execute(
            "SELECT seq, job_id, tenant, version, status, body FROM job_events"
            " WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, limit),
        )
    ]
    if not events:
        return 0, []
    tenants = sorted({s.tenant for _, s in events})
    endpoints = [
        _endpoint(r)
        for r in conn.execute(
            f"SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE disabled_at IS"
            f" NULL AND tenant IN ({placeholders(len(tenants), '?')})",
            tenants,
        )
    ]
    deliveries = plan(events, endpoints) if endpoints else []
    conn.executemany(_INSERT_DELIVERY, [delivery_values(d, epoch) for d in deliveries])
    conn.execute("UPDATE webhook_cursor SET seq = ? WHERE id = 1", (events[-1][0],))
    return len(events), deliveries


def _pairs(
    conn: sqlite3.Connection, ids: Sequence[str]
) -> dict[str, tuple[Delivery, Endpoint]]:
    """The deliveries with these ids, and their endpoints."""
    sql = _PAIRS.format(ids=placeholders(len(ids), "?"))
    return pairs_from_rows(conn.execute(sql, ids).fetchall(), _time)


def _record(
    conn: sqlite3.Connection, attempts: Sequence[tuple[str, Apply]]
) -> list[Recorded]:
    found = _pairs(conn, [delivery_id for delivery_id, _ in attempts])
    results, deliveries, endpoints, disabled = apply_attempts(found, attempts)
    conn.executemany(
        "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?,"
        " last_status = ?, last_response = ?, last_error = ?, updated_at = ?,"
        " claimed_until = NULL WHERE id = ?",
        [
            (
                d.status.value,
                d.attempts,
                epoch(d.next_attempt_at),
                d.last_status,
                d.last_response,
                d.last_error,
                epoch(d.updated_at),
                d.id,
            )
            for d in deliveries
        ],
    )
    conn.executemany(
        "UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ?,"
        " failing_since = ?, exhausted_streak = ? WHERE id = ?",
        [
            (
                epoch(e.disabled_at),
                e.disabled_reason,
                epoch(e.failing_since),
                e.exhausted_streak,
                e.id,
            )
            for e in endpoints
        ],
    )
    conn.executemany(
        "UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL,"
        " last_error = ?, updated_at = ? WHERE endpoint_id = ? AND status = 'pending'",
        [(disabled_error(e), epoch(e.disabled_at), e.id) for e in disabled],
    )
    return results
