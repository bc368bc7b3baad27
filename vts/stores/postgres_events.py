"""The event log of the Postgres store: reading `job_events` after a seq, and pruning.

The rows are written by the group commit (postgres_writes.py), in the transaction of
the change they record, with seqs taken from a counter row held to commit: seq is
commit order across replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vts.domain import JobStatus
from vts.snapshot import Snapshot

if TYPE_CHECKING:
    import asyncpg

# SKIP LOCKED: rows another replica's sweeper is deleting are left to it (two
# deletes locking the same rows in different orders could deadlock).
PURGE_EVENTS_SQL = (
    "DELETE FROM job_events WHERE seq IN ("
    " SELECT seq FROM job_events WHERE created_at < $1"
    " ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
)


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


class PostgresEvents:
    """JobStore event-log methods on the store's pool."""

    @property
    def pool(self) -> asyncpg.Pool:
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
        async with self._errors():
            status: str = await self.pool.execute(PURGE_EVENTS_SQL, before, limit)
        return int(status.rsplit(" ", 1)[-1])  # "DELETE <count>"
