"""The event log of the SQLite store: reading `job_events` after a seq, and pruning it.

The rows are written by the group commit (sqlite_writes.py), in the transaction of
the change they record; one writer at a time makes seq commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar

from vts.codec import epoch
from vts.domain import JobStatus
from vts.snapshot import Snapshot
from vts.stores.store_parts import SqliteParts

T = TypeVar("T")
_EVENT_COLUMNS = "seq, job_id, tenant, version, status, body"
# Of the oldest `limit` events, those before the first one written at or after the
# cut: always a prefix of the log, so a consumer whose cursor is at or above the
# oldest kept seq has missed nothing (no hole behind a row that a skewed clock kept).
# Found through the primary key alone: a sweep with nothing to prune reads `limit`
# rows, and no index on created_at costs every change a write.
# (No WITH clause: Python's sqlite3 reports no rowcount for a statement so begun.)
# Nor past the webhook dispatcher's cursor while it runs (it runs while any endpoint
# exists): an event owes its deliveries until the dispatcher has read it, however
# long it has been down.
_HEAD = "(SELECT seq, created_at FROM job_events ORDER BY seq LIMIT :limit)"
PURGE_EVENTS_SQL = (
    "DELETE FROM job_events WHERE seq < coalesce("
    f" (SELECT min(seq) FROM {_HEAD} WHERE created_at >= :before),"
    f" (SELECT max(seq) + 1 FROM {_HEAD}))"
    " AND (seq <= (SELECT seq FROM webhook_cursor WHERE id = 1)"
    " OR NOT EXISTS (SELECT 1 FROM webhook_endpoints))"
)


def events_sql(tenant: str | None, job_ids: Sequence[str] | None) -> str:
    """The query of `events_after`: parameters after, [tenant], [*job_ids], limit.

    A tenant's events walk (tenant, seq) in order; every tenant's, the table itself
    (seq is its rowid). Job ids filter that walk: following a few jobs reads the
    tenant's events after the cursor, which for a live stream are few."""
    clauses = ["seq > ?"]
    index = ""
    if tenant is not None:
        clauses.append("tenant = ?")
        index = "INDEXED BY job_events_tenant"
    if job_ids is not None:
        clauses.append(f"job_id IN ({','.join('?' * len(job_ids))})")
    return (
        f"SELECT {_EVENT_COLUMNS} FROM job_events {index}"
        f" WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
    )


def event_from_row(row: Sequence[Any]) -> tuple[int, Snapshot]:
    seq, job_id, tenant, version, status, body = row
    return seq, Snapshot(job_id, tenant, version, JobStatus(status), bytes(body))


class SqliteEvents(SqliteParts):
    """JobStore event-log methods: reads on the reader connection, pruning as one
    statement of its own on the writer thread (between group commits)."""

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> list[tuple[int, Snapshot]]:
        if job_ids is not None and not job_ids:
            return []
        params: list[object] = [after]
        if tenant is not None:
            params.append(tenant)
        params.extend(job_ids or ())
        params.append(limit)
        async with self._errors():
            rows = await self._r.execute_fetchall(events_sql(tenant, job_ids), params)
        return [event_from_row(r) for r in rows]

    async def oldest_event_seq(self) -> int | None:
        async with self._errors():
            rows = list(
                await self._r.execute_fetchall("SELECT min(seq) FROM job_events")
            )
        value: int | None = rows[0][0] if rows else None
        return value

    async def newest_event_seq(self) -> int:
        # AUTOINCREMENT keeps the highest seq handed out in sqlite_sequence, also
        # once pruning has deleted that row.
        async with self._errors():
            rows = list(
                await self._r.execute_fetchall(
                    "SELECT seq FROM sqlite_sequence WHERE name = 'job_events'"
                )
            )
        return int(rows[0][0]) if rows else 0

    async def purge_events(self, before: datetime, limit: int) -> int:
        async with self._errors():
            return await self._in_writer(_purge, self._w, epoch(before), limit)


def _purge(conn: sqlite3.Connection, before: float | None, limit: int) -> int:
    return conn.execute(PURGE_EVENTS_SQL, {"limit": limit, "before": before}).rowcount
