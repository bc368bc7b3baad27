"""Job <-> wire formats: the public fields (see vts.snapshot), the stored record, times."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from vts.domain import DEFAULT_TENANT, Job, JobError, JobStatus


def format_time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a `Z`, millisecond precision."""
    if value is None:
        return None
    if value.tzinfo is not UTC:  # every time vts makes is in UTC already
        value = value.astimezone(UTC)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)


def error_to_dict(error: JobError | None) -> dict[str, Any] | None:
    if error is None:
        return None
    return {"code": error.code, "message": error.message, "retryable": error.retryable}


def error_from_dict(data: dict[str, Any] | None) -> JobError | None:
    if data is None:
        return None
    return JobError(str(data["code"]), str(data["message"]), bool(data["retryable"]))


def job_to_public(job: Job) -> dict[str, Any]:
    """The job as clients see it: every field but scheduling and lease internals."""
    return _fields(job, format_time)


def _fields(job: Job, time: Callable[[datetime | None], object]) -> dict[str, Any]:
    return {
        "job_id": job.job_id,
        "tenant": job.tenant,
        "status": job.status.value,
        "source_language": job.source_language,
        "target_language": job.target_language,
        "metadata": job.metadata,
        "progress": job.progress,
        "stage": job.stage,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "lease_losses": job.lease_losses,
        "error": error_to_dict(job.error),
        "result": job.result,
        "created_at": time(job.created_at),
        "updated_at": time(job.updated_at),
        "started_at": time(job.started_at),
        "completed_at": time(job.completed_at),
        "version": job.version,
    }


def job_to_record(job: Job) -> bytes:
    """Every field of the job, internals included, for stores that keep a JSON body.

    Times to the microsecond, not the public milliseconds: a job read back equals
    the job written, and agrees with the time columns the store filters on. orjson
    writes a UTC datetime exactly as `record_time` does, in C.
    """
    record = _fields(job, _utc)
    record["available_at"] = _utc(job.available_at)
    record["lease_owner"] = job.lease_owner
    record["lease_expires_at"] = _utc(job.lease_expires_at)
    return orjson.dumps(record)


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


def record_time(value: datetime | None) -> str | None:
    """A time as the JSON record keeps it: ISO 8601 in UTC, to the microsecond."""
    value = _utc(value)
    return None if value is None else value.isoformat()


def job_from_record(raw: bytes | str) -> Job:
    data = orjson.loads(raw)
    return Job(
        job_id=data["job_id"],
        status=JobStatus(data["status"]),
        source_language=data["source_language"],
        target_language=data["target_language"],
        metadata=data["metadata"],
        created_at=_time(data["created_at"]),
        updated_at=_time(data["updated_at"]),
        max_attempts=data["max_attempts"],
        version=data["version"],
        progress=data["progress"],
        stage=data["stage"],
        attempts=data["attempts"],
        # Records written before lease losses were counted have none.
        lease_losses=data.get("lease_losses", 0),
        error=error_from_dict(data["error"]),
        result=data["result"],
        started_at=parse_time(data["started_at"]),
        completed_at=parse_time(data["completed_at"]),
        available_at=parse_time(data.get("available_at")),
        lease_owner=data.get("lease_owner"),
        lease_expires_at=parse_time(data.get("lease_expires_at")),
        # Records written before tenants existed belong to the default tenant.
        tenant=data.get("tenant", DEFAULT_TENANT),
    )


def _time(value: str) -> datetime:
    parsed = parse_time(value)
    assert parsed is not None
    return parsed


def epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()
