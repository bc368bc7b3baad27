"""The Postgres group commit: every queued write in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vts.codec import job_from_record, job_to_record, record_time
from vts.domain import Job, JobStatus
from vts.errors import JobNotFoundError, VersionConflictError
from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot
from vts.stores.batching import (
    ClaimOp,
    CreateOp,
    Op,
    PurgeOp,
    RenewOp,
    UpdateOp,
)
from vts.stores.idempotency import reuse_error, scoped_key
from vts.stores.postgres_claims import FAIR_CLAIM_SQL

if TYPE_CHECKING:
    import asyncpg

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


# Commit order (docs/design-event-log.md): the counter row stays locked until this
# transaction commits, so another replica's batch takes its seqs only after ours
# are visible, and a reader resuming after any seq it saw never misses a lower one.
# Taken last, after every job row lock: a batch holds it only while it commits.
# One statement: the seqs are taken and the rows written in one round trip.
INSERT_EVENTS_SQL = """
WITH taken AS (UPDATE event_counter SET n = n + cardinality($1::text[]) RETURNING n)
INSERT INTO job_events (seq, tenant, job_id, version, status, body)
SELECT taken.n - cardinality($1::text[]) + e.ord, e.tenant, e.job_id, e.version,
    e.status, e.body
FROM taken, unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::bytea[])
    WITH ORDINALITY AS e(tenant, job_id, version, status, body, ord)
"""


async def write_batch(conn: asyncpg.Connection, ops: list[Op]) -> None:
    """Every queued write, in the transaction the caller opened on `conn`, and
    every job version it stores logged in `job_events`, in the order applied."""
    changed = await _apply_creates(conn, [o for o in ops if isinstance(o, CreateOp)])
    changed += await _apply_updates(conn, [o for o in ops if isinstance(o, UpdateOp)])
    for op in ops:
        if isinstance(op, ClaimOp):
            changed += await _apply_claim(conn, op)
        elif isinstance(op, RenewOp):
            await _apply_renew(conn, op)
        elif isinstance(op, PurgeOp):
            await _apply_purge(conn, op)
    await _log_events(conn, changed)


async def _log_events(conn: asyncpg.Connection, snaps: list[Snapshot]) -> None:
    if not snaps:
        return
    await conn.execute(
        INSERT_EVENTS_SQL,
        [s.tenant for s in snaps],
        [s.job_id for s in snaps],
        [s.version for s in snaps],
        [s.status.value for s in snaps],
        [s.body for s in snaps],
    )


async def _apply_creates(
    conn: asyncpg.Connection, ops: list[CreateOp]
) -> list[Snapshot]:
    if not ops:
        return []
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
    created: list[Snapshot] = []
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
            created.append(op.snapshot)
            continue
        key = op.scoped_key
        assert op.idempotency is not None and key is not None
        fingerprint, existing = known[key]
        op.error = reuse_error(op.idempotency, fingerprint)
        if op.error is None:
            op.result = (existing, False)
    return created


async def _apply_updates(
    conn: asyncpg.Connection, ops: list[UpdateOp]
) -> list[Snapshot]:
    """The accepted updates, in the order applied (a job's in version order)."""
    # One statement per round so a job appears at most once in each.
    accepted: list[Snapshot] = []
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
        updated = {r["job_id"] for r in await conn.fetch(_UPDATE_FROM_UNNEST, *args)}
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
                accepted.append(op.snapshot)
            elif job_id not in versions:
                op.error = JobNotFoundError(job_id)
            else:
                op.error = VersionConflictError(
                    f"job {job_id} is at version {versions[job_id]}, "
                    f"not {op.expected_version}"
                )
        remaining = later
    return accepted


async def _apply_claim(conn: asyncpg.Connection, op: ClaimOp) -> list[Snapshot]:
    rows = await conn.fetch(FAIR_CLAIM_SQL, op.now, op.limit)
    pairs = [(op.apply(job_from_record(r["body"])), r["version"]) for r in rows]
    if pairs:
        await conn.fetch(_UPDATE_FROM_UNNEST, *_update_args(pairs))
    claimed = [(job, Snapshot.of(job)) for job, _ in pairs]
    op.result = claimed
    return [snap for _, snap in claimed]


async def _apply_renew(conn: asyncpg.Connection, op: RenewOp) -> None:
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


async def _apply_purge(conn: asyncpg.Connection, op: PurgeOp) -> None:
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
