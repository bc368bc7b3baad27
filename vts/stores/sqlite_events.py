"""The event log of the SQLite store: reading `job_events` after a seq, and pruning it.

The rows are written by the group commit (sqlite_writes.py), in the transaction of
the change they record; one writer at a time makes seq commit order.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import aiosqlite

from vts.codec import epoch
from vts.domain import JobStatus
from vts.snapshot import Snapshot

T = TypeVar("T")
_EVENT_COLUMNS = "seq, job_id, tenant, version, status, body"
# Named indexes, as elsewhere (no ANALYZE statistics): a tenant's stream through
# (tenant, seq) in order; a few jobs' through (job_id, seq), sorted after.
PURGE_EVENTS_SQL = (
    "DELETE FROM job_events WHERE seq IN ("
    " SELECT seq FROM job_events INDEXED BY job_events_created"
    " WHERE created_at < ? ORDER BY created_at LIMIT ?)"
)


def events_sql(tenant: str | None, job_ids: Sequence[str] | None) -> str:
    """The query of `events_after`: parameters after, [tenant], [*job_ids], limit."""
    clauses = ["seq > ?"]
    index = ""
    if tenant is not None:
        clauses.append("tenant = ?")
        index = "INDEXED BY job_events_tenant"
    if job_ids is not None:
        clauses.append(f"job_id IN ({','.join('?' * len(job_ids))})")
        index = "INDEXED BY job_events_job"
    return (
        f"SELECT {_EVENT_COLUMNS} FROM job_events {index}"
        f" WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?"
    )


def event_from_row(row: Sequence[Any]) -> tuple[int, Snapshot]:
    seq, job_id, tenant, version, status, body = row
    return seq, Snapshot(job_id, tenant, version, JobStatus(status), bytes(body))


class SqliteEvents:
    """JobStore event-log methods: reads on the reader connection, pruning as one
    statement of its own on the writer thread (between group commits)."""

    @property
    def _r(self) -> aiosqlite.Connection:
        raise NotImplementedError

    @property
    def _w(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def _errors(self) -> Any:
        raise NotImplementedError

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
    return conn.execute(PURGE_EVENTS_SQL, (before, limit)).rowcount
