"""The job reads of the SQLite store: one job, pages, expired leases, dead letters,
counts and the next due time, on the reader connection (never queued behind writes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from vts.codec import epoch, job_from_record
from vts.domain import Job, JobStatus
from vts.errors import JobNotFoundError
from vts.ports import Page
from vts.stores.cursors import decode_cursor, encode_cursor
from vts.stores.store_parts import SqliteParts

# Named indexes: see sqlite_writes.py (no ANALYZE statistics, no good plan otherwise).
EXPIRED_SQL = (
    "SELECT body FROM jobs INDEXED BY jobs_leases"
    " WHERE status = 'processing' AND lease_expires_at < ?"
    " ORDER BY lease_expires_at LIMIT ?"
)
DEAD_LETTERS_SQL = (
    "SELECT body FROM jobs INDEXED BY jobs_dead WHERE status = 'failed'"
    " ORDER BY completed_at DESC, seq DESC LIMIT ?"
)
TENANT_DEAD_LETTERS_SQL = DEAD_LETTERS_SQL.replace(
    "jobs_dead WHERE", "jobs_tenant_dead WHERE tenant = ? AND"
)
NEXT_DUE_SQL = (
    "SELECT min(available_at) FROM jobs INDEXED BY jobs_due WHERE status = 'pending'"
)
COUNTS_SQL = "SELECT status, count(*) FROM jobs GROUP BY status"
# Counted in the index alone, one tenant's range of it.
TENANT_COUNTS_SQL = (
    "SELECT status, count(*) FROM jobs INDEXED BY jobs_tenant_status"
    " WHERE tenant = ? GROUP BY status"
)


class SqliteReads(SqliteParts):
    """JobStore read methods; WAL lets them run while the writer thread commits."""

    async def get(self, job_id: str, *, tenant: str | None) -> Job:
        async with self._errors():
            rows = list(
                await self._r.execute_fetchall(
                    "SELECT body FROM jobs WHERE job_id = ?1"
                    " AND (?2 IS NULL OR tenant = ?2)",
                    (job_id, tenant),
                )
            )
        if not rows:
            raise JobNotFoundError(job_id)
        return job_from_record(rows[0][0])

    async def list_jobs(
        self,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        *,
        tenant: str | None,
    ) -> Page:
        clauses: list[str] = []
        params: list[object] = []
        if tenant is not None:
            clauses.append("tenant = ?")
            params.append(tenant)
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if cursor is not None:
            clauses.append("seq < ?")
            params.append(decode_cursor(cursor))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        async with self._errors():
            rows = list(
                await self._r.execute_fetchall(
                    f"SELECT seq, body FROM jobs {where} ORDER BY seq DESC LIMIT ?",
                    (*params, limit + 1),
                )
            )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][0]) if more and rows else None
        return Page([job_from_record(r[1]) for r in rows], next_cursor)

    async def expired(self, now: datetime, limit: int) -> list[Job]:
        async with self._errors():
            rows = await self._r.execute_fetchall(EXPIRED_SQL, (epoch(now), limit))
        return [job_from_record(r[0]) for r in rows]

    async def dead_letters(self, limit: int, *, tenant: str | None) -> list[Job]:
        sql, params = (
            (DEAD_LETTERS_SQL, (limit,))
            if tenant is None
            else (TENANT_DEAD_LETTERS_SQL, (tenant, limit))
        )
        async with self._errors():
            rows = await self._r.execute_fetchall(sql, params)
        return [job_from_record(r[0]) for r in rows]

    async def count_by_status(
        self, tenant: str | None = None
    ) -> Mapping[JobStatus, int]:
        async with self._errors():
            if tenant is None:
                rows = await self._r.execute_fetchall(COUNTS_SQL)
            else:
                rows = await self._r.execute_fetchall(TENANT_COUNTS_SQL, (tenant,))
        counts = dict.fromkeys(JobStatus, 0)
        counts.update({JobStatus(r[0]): r[1] for r in rows})
        return counts

    async def next_due(self) -> datetime | None:
        async with self._errors():
            rows = list(await self._r.execute_fetchall(NEXT_DUE_SQL))
        value = rows[0][0] if rows else None
        return None if value is None else datetime.fromtimestamp(value, UTC)
