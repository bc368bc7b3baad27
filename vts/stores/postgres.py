"""PostgreSQL job store (asyncpg): group commit, SKIP LOCKED claims, shared by many replicas."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from vts.codec import job_from_record, job_to_record, record_time
from vts.config import Settings
from vts.domain import Job, JobStatus
from vts.errors import (
    IdempotencyKeyReusedError,
    JobNotFoundError,
    MissingDependencyError,
    StoreNotWritableError,
    StoreUnavailableError,
    VersionConflictError,
)
from vts.ports import IdempotencyClaim, Page
from vts.stores import migrations
from vts.stores.batching import (
    BatchedWrites,
    ClaimOp,
    CreateOp,
    Op,
    PurgeOp,
    RenewOp,
    UpdateOp,
    WriteBatcher,
    scoped_key,
)
from vts.stores.cursors import decode_cursor, encode_cursor
from vts.stores.postgres_claims import FAIR_CLAIM_SQL
from vts.stores.postgres_keys import PostgresKeys
from vts.stores.write_health import PROBE_BODY, PROBE_JOB_ID, WriteHealth

if TYPE_CHECKING:
    import asyncpg

log = logging.getLogger(__name__)

MAX_BATCH = 1024
TRANSACTION_ATTEMPTS = 3
MIGRATION_LOCK = 0x767473  # "vts": one migrator at a time across replicas
_COLUMNS = (
    "job_id, status, version, available_at, lease_owner, lease_expires_at, "
    "completed_at, lease_losses, idempotency_key, fingerprint, body, tenant"
)
_UNNEST_TYPES = (
    "text[]",
    "text[]",
    "int[]",
    "timestamptz[]",
    "text[]",
    "timestamptz[]",
    "timestamptz[]",
    "int[]",
    "text[]",
    "text[]",
    "jsonb[]",
    "text[]",
)
_UPDATE_FROM_UNNEST = """
UPDATE jobs SET status = u.status, version = u.version, available_at = u.available_at,
    lease_owner = u.lease_owner,
    lease_expires_at = CASE WHEN u.status = 'processing' AND jobs.status = 'processing'
        AND jobs.lease_owner IS NOT DISTINCT FROM u.lease_owner
        THEN GREATEST(jobs.lease_expires_at, u.lease_expires_at)
        ELSE u.lease_expires_at END,
    completed_at = u.completed_at, lease_losses = u.lease_losses, body = u.body
FROM unnest($1::text[], $2::int[], $3::text[], $4::int[], $5::timestamptz[], $6::text[],
            $7::timestamptz[], $8::timestamptz[], $9::int[], $10::jsonb[])
    AS u(job_id, expected, status, version, available_at, lease_owner, lease_expires_at,
         completed_at, lease_losses, body)
WHERE jobs.job_id = u.job_id AND jobs.version = u.expected
RETURNING jobs.job_id
"""


def _columns(job: Job, idem: IdempotencyClaim | None = None) -> tuple[Any, ...]:
    return (
        job.job_id,
        job.status.value,
        job.version,
        job.available_at,
        job.lease_owner,
        job.lease_expires_at,
        job.completed_at,
        job.lease_losses,
        scoped_key(job.tenant, idem.key) if idem else None,
        idem.fingerprint if idem else None,
        job_to_record(job).decode(),
        job.tenant,
    )


def _update_args(pairs: Sequence[tuple[Job, int]]) -> list[list[Any]]:
    """Column arrays for _UPDATE_FROM_UNNEST: (job, expected version) pairs."""
    rows = []
    for job, expected in pairs:
        columns = _columns(job)
        rows.append((job.job_id, expected, *columns[1:8], columns[10]))
    return [list(column) for column in zip(*rows, strict=True)]


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


class PostgresJobStore(PostgresKeys, BatchedWrites):
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
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            done = {
                r["name"]
                for r in await conn.fetch("SELECT name FROM schema_migrations")
            }
            for name, sql in migrations.load("postgresql"):
                if name in done:
                    continue
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name) VALUES ($1)", name
                )
                applied.append(name)
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
            await self._apply_creates(conn, [o for o in ops if isinstance(o, CreateOp)])
            await self._apply_updates(conn, [o for o in ops if isinstance(o, UpdateOp)])
            for op in ops:
                if isinstance(op, ClaimOp):
                    await self._apply_claim(conn, op)
                elif isinstance(op, RenewOp):
                    await self._apply_renew(conn, op)
                elif isinstance(op, PurgeOp):
                    await self._apply_purge(conn, op)

    async def _apply_creates(
        self, conn: asyncpg.Connection, ops: list[CreateOp]
    ) -> None:
        if not ops:
            return
        pending: dict[str, CreateOp] = {}
        rows = []
        for op in ops:
            idem = op.idempotency
            key = op.scoped_key
            if key is not None and key in pending:
                # The same key twice in one batch: settle it after the first lands.
                continue
            if idem is not None and key is not None:
                pending[key] = op
            rows.append(_columns(op.job, idem))
        columns = [list(c) for c in zip(*rows, strict=True)]
        unnest = ", ".join(f"${i + 1}::{t}" for i, t in enumerate(_UNNEST_TYPES))
        inserted = {
            r["job_id"]
            for r in await conn.fetch(
                f"INSERT INTO jobs ({_COLUMNS}) SELECT * FROM unnest({unnest}) "
                "ON CONFLICT (idempotency_key) DO NOTHING RETURNING job_id",
                *columns,
            )
        }
        keys = [
            key
            for o in ops
            if (key := o.scoped_key) is not None and o.job.job_id not in inserted
        ]
        known: dict[str, tuple[str, Job]] = {}
        if keys:
            for r in await conn.fetch(
                "SELECT idempotency_key, fingerprint, body::text FROM jobs "
                "WHERE idempotency_key = ANY($1::text[])",
                keys,
            ):
                known[r["idempotency_key"]] = (
                    r["fingerprint"],
                    job_from_record(r["body"]),
                )
        for op in ops:
            if op.job.job_id in inserted:
                op.result = (op.job, True)
                continue
            key = op.scoped_key
            assert op.idempotency is not None and key is not None
            fingerprint, existing = known[key]
            if fingerprint == op.idempotency.fingerprint:
                op.result = (existing, False)
            else:
                op.error = IdempotencyKeyReusedError(
                    "this Idempotency-Key was already used with a different request body"
                )

    async def _apply_updates(
        self, conn: asyncpg.Connection, ops: list[UpdateOp]
    ) -> None:
        # One statement per round so a job appears at most once in each.
        remaining = ops
        while remaining:
            this_round: dict[str, UpdateOp] = {}
            later: list[UpdateOp] = []
            for op in remaining:
                if op.job.job_id in this_round:
                    later.append(op)
                else:
                    this_round[op.job.job_id] = op
            args = _update_args(
                [(op.job, op.expected_version) for op in this_round.values()]
            )
            updated = {
                r["job_id"] for r in await conn.fetch(_UPDATE_FROM_UNNEST, *args)
            }
            missed = [job_id for job_id in this_round if job_id not in updated]
            versions: dict[str, int] = {}
            if missed:
                rows = await conn.fetch(
                    "SELECT job_id, version FROM jobs WHERE job_id = ANY($1::text[])",
                    missed,
                )
                versions = {r["job_id"]: r["version"] for r in rows}
            for job_id, op in this_round.items():
                if job_id in updated:
                    op.result = None
                elif job_id not in versions:
                    op.error = JobNotFoundError(job_id)
                else:
                    op.error = VersionConflictError(
                        f"job {job_id} is at version {versions[job_id]}, "
                        f"not {op.expected_version}"
                    )
            remaining = later

    async def _apply_claim(self, conn: asyncpg.Connection, op: ClaimOp) -> None:
        rows = await conn.fetch(FAIR_CLAIM_SQL, op.now, op.limit)
        pairs = [(op.apply(job_from_record(r["body"])), r["version"]) for r in rows]
        if pairs:
            await conn.fetch(_UPDATE_FROM_UNNEST, *_update_args(pairs))
        op.result = [job for job, _ in pairs]

    async def _apply_renew(self, conn: asyncpg.Connection, op: RenewOp) -> None:
        rows = await conn.fetch(
            "UPDATE jobs SET lease_expires_at = $3,"
            " body = jsonb_set(body, '{lease_expires_at}', to_jsonb($4::text))"
            " WHERE status = 'processing' AND lease_owner = $2 AND job_id = ANY($1::text[])"
            " RETURNING job_id",
            list(op.job_ids),
            op.owner,
            op.expires_at,
            record_time(op.expires_at),
        )
        op.result = {r["job_id"] for r in rows}

    async def _apply_purge(self, conn: asyncpg.Connection, op: PurgeOp) -> None:
        # SKIP LOCKED: rows another replica is purging (or replaying) are left to it.
        rows = await conn.fetch(
            "DELETE FROM jobs WHERE job_id IN ("
            "  SELECT job_id FROM jobs"
            "  WHERE status IN ('completed', 'failed', 'cancelled') AND completed_at < $1"
            "  ORDER BY completed_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " RETURNING job_id, status",
            op.before,
            op.limit,
        )
        op.result = [(r["job_id"], JobStatus(r["status"])) for r in rows]

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

    async def count_by_status(self) -> Mapping[JobStatus, int]:
        async with _driver_errors():
            rows = await self.pool.fetch(
                "SELECT status, count(*) AS n FROM jobs GROUP BY status"
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
