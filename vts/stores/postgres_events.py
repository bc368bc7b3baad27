"""The event log of the Postgres store: reading `job_events` after a seq, and pruning.

The rows are written by the group commit (postgres_writes.py), in the transaction of
the change they record, with seqs taken from a counter row held to commit: seq is
commit order across replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from vts.domain import JobStatus
from vts.snapshot import Snapshot
from vts.stores.store_parts import PostgresParts

if TYPE_CHECKING:
    pass

# Of the oldest `limit` events, those before the first one written at or after the
# cut: always a prefix of the log (created_at is the writing transaction's start, and
# seqs are taken at commit, so created_at is not monotonic in seq; deleting by age
# alone could leave a hole behind an older row). Found through the primary key, with
# no index on created_at for every change to keep up.
PURGE_EVENTS_SQL = (
    "WITH head AS (SELECT seq, created_at FROM job_events ORDER BY seq LIMIT $2)"
    " DELETE FROM job_events WHERE seq < coalesce("
    " (SELECT min(seq) FROM head WHERE created_at >= $1),"
    " (SELECT max(seq) + 1 FROM head))"
    # Nor past the webhook dispatcher's cursor while it runs (sqlite_events.py).
    " AND (seq <= (SELECT seq FROM webhook_cursor)"
    " OR NOT EXISTS (SELECT 1 FROM webhook_endpoints))"
)
# One sweeper at a time across replicas; the others skip their turn.
PURGE_LOCK_SQL = "SELECT pg_try_advisory_xact_lock(hashtext('vts.purge_events'))"


def events_sql(tenant: str | None, job_ids: Sequence[str] | None) -> str:
    """The query of `events_after` ($1 after, $2 limit, $3 tenant, $4 job ids),
    spelled out per case: a generic plan of `$3 IS NULL OR ...` would use no index."""
    clauses = ["seq > $1"]
    clauses.append("tenant = $3" if tenant is not None else "$3::text IS NULL")
    clauses.append(
        "job_id = ANY($4::text[])" if job_ids is not None else "$4::text[] IS NULL"
    )
    return (
        "SELECT seq, job_id, tenant, version, status, body FROM job_events"
        f" WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT $2"
    )


class PostgresEvents(PostgresParts):
    """JobStore event-log methods on the store's pool."""

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> list[tuple[int, Snapshot]]:
        if job_ids is not None and not job_ids:
            return []
        async with self._errors():
            rows = await self.pool.fetch(
                events_sql(tenant, job_ids),
                after,
                limit,
                tenant,
                None if job_ids is None else list(job_ids),
            )
        return [
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

    async def oldest_event_seq(self) -> int | None:
        async with self._errors():
            value: int | None = await self.pool.fetchval(
                "SELECT min(seq) FROM job_events"
            )
        return value

    async def newest_event_seq(self) -> int:
        # The counter row, as committed: transactions commit in its order.
        async with self._errors():
            value: int = await self.pool.fetchval("SELECT n FROM event_counter")
        return value

    async def purge_events(self, before: datetime, limit: int) -> int:
        async with self._errors(), self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval(PURGE_LOCK_SQL):
                return 0  # another replica is pruning
            status: str = await conn.execute(PURGE_EVENTS_SQL, before, limit)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"
