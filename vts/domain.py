"""The job model and its state machine: pure, no I/O, time and randomness passed in."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from vts.errors import InvalidTransitionError

JsonObject = Mapping[str, Any]
DEFAULT_TENANT = "default"
"""The tenant of jobs created without keys (VTS_AUTH=none) and of jobs that existed
before tenants did."""


class JobStatus(enum.StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELLED})

STAGES = ("downloading", "transcribing", "translating", "synthesizing", "muxing")


@attrs.frozen
class JobError:
    """Why a job's last attempt failed."""

    code: str
    message: str
    retryable: bool


@attrs.frozen
class Job:
    """One translation job. Every change goes through `transition`, which returns a copy."""

    job_id: str
    status: JobStatus
    source_language: str
    target_language: str
    metadata: JsonObject
    created_at: datetime
    updated_at: datetime
    max_attempts: int
    version: int = 1
    progress: int = 0
    stage: str | None = None
    # Attempts that ran to an outcome, plus the running one; an attempt cut short by
    # a lost lease or a shutdown is given back. Lost leases are counted apart.
    attempts: int = 0
    lease_losses: int = 0
    error: JobError | None = None
    result: JsonObject | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # Scheduling and ownership; not part of the public snapshot.
    available_at: datetime | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    # The tenant the job belongs to: only callers of that tenant (or admins) see it.
    tenant: str = DEFAULT_TENANT


def new_job(
    job_id: str,
    source_language: str,
    target_language: str,
    metadata: JsonObject,
    max_attempts: int,
    now: datetime,
    tenant: str = DEFAULT_TENANT,
) -> Job:
    """A fresh pending job of `tenant`, claimable at once."""
    return Job(
        job_id=job_id,
        status=JobStatus.PENDING,
        source_language=source_language,
        target_language=target_language,
        metadata=metadata,
        created_at=now,
        updated_at=now,
        max_attempts=max_attempts,
        available_at=now,
        tenant=tenant,
    )


# --- events: what can happen to a job -------------------------------------------


@attrs.frozen
class Claim:
    """A worker takes a pending job under a lease."""

    owner: str
    lease_expires_at: datetime


@attrs.frozen
class Progress:
    """The running attempt reports how far it got."""

    progress: int
    stage: str | None


@attrs.frozen
class Succeed:
    result: JsonObject


@attrs.frozen
class Fail:
    """The running attempt failed; `jitter` in [0, 1) spreads the retry backoff."""

    error: JobError
    jitter: float = 0.0


@attrs.frozen
class ExpireLease:
    """The lease ran out: its worker was killed, crashed or stalled. That is not the
    job's failure: the claim's attempt is given back and the loss counted apart. The
    `max_lease_losses`-th loss dead-letters the job (`lease-lost`): a job that brings
    down every worker that runs it must not take them down forever."""

    max_lease_losses: int = attrs.field(validator=attrs.validators.ge(1))


@attrs.frozen
class Release:
    """The worker gives the job back unfinished (shutdown); the attempt is not counted."""


@attrs.frozen
class Cancel:
    pass


@attrs.frozen
class Replay:
    """A dead-lettered job gets a fresh set of attempts and of lease losses."""


Event = Claim | Progress | Succeed | Fail | ExpireLease | Release | Cancel | Replay

BACKOFF_BASE_SECONDS = 1.0
BACKOFF_CAP_SECONDS = 60.0


def backoff_seconds(
    attempts: int,
    jitter: float,
    base: float = BACKOFF_BASE_SECONDS,
    cap: float = BACKOFF_CAP_SECONDS,
) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(cap, base * 2.0 ** max(attempts - 1, 0))
    return ceiling / 2 + ceiling / 2 * jitter


def transition(job: Job, event: Event, now: datetime) -> Job:
    """Apply `event` to `job` at time `now`; raises InvalidTransitionError if not allowed."""
    # One evolve per transition: a Job has twenty fields, and each copy costs.
    changes = _changes(job, event, now)
    return attrs.evolve(job, **changes, version=job.version + 1, updated_at=now)


def _refuse(job: Job, event: Event) -> InvalidTransitionError:
    name = type(event).__name__.lower()
    return InvalidTransitionError(f"cannot {name} a job that is {job.status.value}")


_UNLEASED: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}


def _changes(job: Job, event: Event, now: datetime) -> dict[str, Any]:
    """The fields `event` changes, as attrs.evolve takes them."""
    status = job.status
    match event:
        case Claim(owner=owner, lease_expires_at=expires):
            if status is not JobStatus.PENDING or job.attempts >= job.max_attempts:
                raise _refuse(job, event)
            return {
                "status": JobStatus.PROCESSING,
                "attempts": job.attempts + 1,
                "started_at": job.started_at or now,
                "lease_owner": owner,
                "lease_expires_at": expires,
                "available_at": None,
                "progress": 0,
                "stage": None,
            }
        case Progress(progress=progress, stage=stage):
            if status is not JobStatus.PROCESSING:
                raise _refuse(job, event)
            return {"progress": max(0, min(100, progress)), "stage": stage}
        case Succeed(result=result):
            if status is not JobStatus.PROCESSING:
                raise _refuse(job, event)
            return {
                **_UNLEASED,
                "status": JobStatus.COMPLETED,
                "result": result,
                "progress": 100,
                "error": None,
                "completed_at": now,
            }
        case Fail(error=error, jitter=jitter):
            if status is not JobStatus.PROCESSING:
                raise _refuse(job, event)
            if error.retryable and job.attempts < job.max_attempts:
                delay = backoff_seconds(job.attempts, jitter)
                return {
                    **_UNLEASED,
                    "status": JobStatus.PENDING,
                    "error": error,
                    "available_at": now + timedelta(seconds=delay),
                }
            return _dead(error, now)
        case ExpireLease(max_lease_losses=bound):
            if status is not JobStatus.PROCESSING:
                raise _refuse(job, event)
            losses = job.lease_losses + 1
            lost = {**_UNLEASED, "attempts": job.attempts - 1, "lease_losses": losses}
            if losses >= bound:
                return {**lost, **_dead(_lease_lost(losses), now)}
            return {**lost, "status": JobStatus.PENDING, "available_at": now}
        case Release():
            if status is not JobStatus.PROCESSING:
                raise _refuse(job, event)
            return {
                **_UNLEASED,
                "status": JobStatus.PENDING,
                "attempts": job.attempts - 1,
                "available_at": now,
            }
        case Cancel():
            if status.is_final:
                raise _refuse(job, event)
            return {
                **_UNLEASED,
                "status": JobStatus.CANCELLED,
                "available_at": None,
                "completed_at": now,
            }
        case Replay():
            if status is not JobStatus.FAILED:
                raise _refuse(job, event)
            return {
                "status": JobStatus.PENDING,
                "attempts": 0,
                "lease_losses": 0,
                "error": None,
                "result": None,
                "progress": 0,
                "stage": None,
                "started_at": None,
                "completed_at": None,
                "available_at": now,
            }
    raise TypeError(f"not a job event: {event!r}")  # pragma: no cover


def _lease_lost(losses: int) -> JobError:
    return JobError(
        "lease-lost",
        f"the worker running the job was lost {losses} times (killed, crashed or "
        "stalled) before it could finish; the job itself may be what brings "
        "its workers down",
        retryable=False,
    )


def _dead(error: JobError, now: datetime) -> dict[str, Any]:
    return {
        **_UNLEASED,
        "status": JobStatus.FAILED,
        "error": error,
        "available_at": None,
        "completed_at": now,
    }
