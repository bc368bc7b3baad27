"""PostgreSQL job store (asyncpg): group commit, SKIP LOCKED claims, shared by many replicas."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vts.codec import job_from_record
from vts.config import Settings
from vts.domain import Job, JobStatus
from vts.errors import (
    JobNotFoundError,
    MissingDependencyError,
    StoreNotWritableError,
    StoreUnavailableError,
)
from vts.ports import Page
from vts.stores import migrations
from vts.stores.batching import (
    BatchedWrites,
    Op,
    WriteBatcher,
)
from vts.stores.cursors import decode_cursor, encode_cursor
from vts.stores.postgres_events import PostgresEvents
from vts.stores.postgres_keys import PostgresKeys
from vts.stores.postgres_outbox import PostgresOutbox
from vts.stores.postgres_writes import write_batch
from vts.stores.write_health import PROBE_BODY, PROBE_JOB_ID, WriteHealth

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

MAX_BATCH = 1024
TRANSACTION_ATTEMPTS = 3
MIGRATION_LOCK = 0x767473  # "vts": one migrator at a time across replicas


@contextlib.asynccontextmanager
async def _driver_errors() -> AsyncIterator[None]:
    import asyncpg

    try:
        yield
    except (OSError, asyncpg.PostgresConnectionError, asyncpg.InterfaceError) as exc:
        raise StoreUnavailableError(f"Postgres is unreachable: {exc}") from exc
    except asyncpg.InternalClientError as exc:
        # Raised when a connection breaks mid-operation (seen while Postgres stops);
        # the pool has already dropped that connection.
        raise StoreUnavailableError(f"Postgres connection broke: {exc}") from exc
    except asyncpg.CannotConnectNowError as exc:
        raise StoreUnavailableError(f"Postgres is starting or stopping: {exc}") from exc
    except asyncpg.PostgresError as exc:
        # 53100 disk full, 25006 read-only transaction (a standby, or a database
        # set read-only): Postgres answers, but cannot take writes.
        if exc.sqlstate in ("53100", "25006"):
            raise StoreNotWritableError(f"Postgres cannot write: {exc}") from exc
        # 08 connection, 53 insufficient resources (too many connections, disk
        # full), 57P operator intervention (shutdown): all pass, so retry later.
        if exc.sqlstate and exc.sqlstate.startswith(("08", "53", "57P")):
            raise StoreUnavailableError(f"Postgres is unavailable: {exc}") from exc
        raise


class PostgresJobStore(PostgresKeys, PostgresEvents, PostgresOutbox, BatchedWrites):
    """Jobs in PostgreSQL; any number of vts processes may share one database."""

    def __init__(self, dsn: str, *, min_size: int = 2, max_size: int = 10) -> None:
        self.dsn = dsn
        self.min_size = min_size
        self.max_size = max_size
        self._pool: asyncpg.Pool | None = None
        health = WriteHealth(self._probe)
        self._batcher = WriteBatcher(self._write_batch, MAX_BATCH, health)

    async def open(self) -> None:
        import asyncpg

        async with _driver_errors():
            self._pool = await asyncpg.create_pool(
                self.dsn,
                min_size=self.min_size,
                max_size=self.max_size,
                command_timeout=30,
                timeout=5,
            )
        self._batcher.start()

    async def close(self) -> None:
        await self._batcher.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return _driver_errors()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise StoreUnavailableError("the Postgres store is not open")
        return self._pool

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        async with _driver_errors(), self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await conn.execute(migrations.SCHEMA_TABLE_SQL["postgresql"])
            done = {r["name"] for r in await conn.fetch(migrations.APPLIED_SQL)}
            for migration in migrations.pending("postgresql", done):
                for statement in migration.statements:
                    await conn.execute(statement)
                await conn.execute(migrations.RECORD_SQL["postgresql"], migration.name)
                applied.append(migration.name)
        if applied:
            log.info("applied Postgres migrations: %s", ", ".join(applied))
        return applied

    async def ping(self) -> None:
        """Postgres answers, and can write (see WriteHealth)."""
        async with _driver_errors():
            await self.pool.fetchval("SELECT 1")
        await self._batcher.health.check()

    async def _probe(self) -> None:
        """A job-sized row into jobs and out again in one transaction: the pages a
        new job needs are written, and no reader ever sees it."""
        async with _driver_errors(), self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "INSERT INTO jobs (job_id, status, version, body)"
                " VALUES ($1, 'probe', 0, $2::jsonb)",
                PROBE_JOB_ID,
                PROBE_BODY,
            )
            await conn.execute("DELETE FROM jobs WHERE job_id = $1", PROBE_JOB_ID)

    # --- writes: queued by BatchedWrites, committed here in batches -------------

    async def _write_batch(self, ops: list[Op]) -> None:
        """One transaction; run again from scratch if Postgres rolled it back to
        break a deadlock with another replica's batch (their row locks interleave)."""
        import asyncpg

        for attempt in range(1, TRANSACTION_ATTEMPTS + 1):
            for op in ops:
                op.result, op.error = None, None
            try:
                async with _driver_errors():
                    await self._write_batch_once(ops)
                return
            except asyncpg.TransactionRollbackError as exc:
                if attempt == TRANSACTION_ATTEMPTS:
                    raise StoreUnavailableError(
                        f"Postgres kept rolling the write back: {exc}"
                    ) from exc
                log.info("write rolled back (%s); retrying it", exc.sqlstate)

    async def _write_batch_once(self, ops: list[Op]) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await write_batch(conn, ops)

    # --- reads ---------------------------------------------------------------------

    async def _fetch_jobs(self, sql: str, *args: Any) -> list[Job]:
        async with _driver_errors():
            rows = await self.pool.fetch(sql, *args)
        return [job_from_record(r["body"]) for r in rows]

    async def get(self, job_id: str, *, tenant: str | None) -> Job:
        jobs = await self._fetch_jobs(
            "SELECT body::text AS body FROM jobs WHERE job_id = $1"
            " AND ($2::text IS NULL OR tenant = $2)",
            job_id,
            tenant,
        )
        if not jobs:
            raise JobNotFoundError(job_id)
        return jobs[0]

    async def list_jobs(
        self,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        *,
        tenant: str | None,
    ) -> Page:
        before = decode_cursor(cursor) if cursor is not None else None
        async with _driver_errors():
            rows = await self.pool.fetch(
                "SELECT seq, body::text AS body FROM jobs"
                " WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR seq < $2)"
                # Spelled out per case: a generic plan of `$4 IS NULL OR ...` would
                # not use the tenant's index.
                + (
                    " AND tenant = $4"
                    if tenant is not None
                    else " AND $4::text IS NULL"
                )
                + " ORDER BY seq DESC LIMIT $3",
                status.value if status else None,
                before,
                limit + 1,
                tenant,
            )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1]["seq"]) if more and rows else None
        return Page([job_from_record(r["body"]) for r in rows], next_cursor)

    async def expired(self, now: datetime, limit: int) -> list[Job]:
        return await self._fetch_jobs(
            "SELECT body::text AS body FROM jobs WHERE status = 'processing'"
            " AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2",
            now,
            limit,
        )

    async def dead_letters(self, limit: int, *, tenant: str | None) -> list[Job]:
        return await self._fetch_jobs(
            "SELECT body::text AS body FROM jobs WHERE status = 'failed'"
            + (" AND tenant = $2" if tenant is not None else " AND $2::text IS NULL")
            + " ORDER BY completed_at DESC, seq DESC LIMIT $1",
            limit,
            tenant,
        )

    async def count_by_status(
        self, tenant: str | None = None
    ) -> Mapping[JobStatus, int]:
        async with _driver_errors():
            if tenant is None:
                rows = await self.pool.fetch(
                    "SELECT status, count(*) AS n FROM jobs GROUP BY status"
                )
            else:
                rows = await self.pool.fetch(
                    "SELECT status, count(*) AS n FROM jobs WHERE tenant = $1"
                    " GROUP BY status",
                    tenant,
                )
        counts = dict.fromkeys(JobStatus, 0)
        counts.update({JobStatus(r["status"]): r["n"] for r in rows})
        return counts

    async def next_due(self) -> datetime | None:
        async with _driver_errors():
            value: datetime | None = await self.pool.fetchval(
                "SELECT min(available_at) FROM jobs WHERE status = 'pending'"
            )
        return value


def create_store(url: str, settings: Settings) -> PostgresJobStore:
    """Entry point `postgresql`: `postgresql://user:password@host:5432/db`."""
    try:
        import asyncpg  # noqa: F401
    except ImportError:
        raise MissingDependencyError("asyncpg", "postgres") from None
    dsn = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    return PostgresJobStore(dsn)
