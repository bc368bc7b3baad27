"""The shapes of what vts sends: plain dicts, typed for readers and type checkers."""

from __future__ import annotations

from typing import Any, Literal, NotRequired, TypedDict

JobStatus = Literal["pending", "processing", "completed", "failed", "cancelled"]
Stage = Literal["downloading", "transcribing", "translating", "synthesizing", "muxing"]

FINAL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "cancelled"})
"""A job in one of these statuses never changes again (unless replayed)."""


class JobErrorInfo(TypedDict):
    """Why the last attempt failed: a stable `code`, a `message`, and whether vts
    will retry it (`retryable`)."""

    code: str
    message: str
    retryable: bool


class Job(TypedDict):
    """A job as `GET /jobs/{job_id}` returns it; `version` grows with every change."""

    job_id: str
    status: JobStatus
    source_language: str
    target_language: str
    metadata: dict[str, Any]
    progress: int
    stage: Stage | None
    attempts: int
    max_attempts: int
    lease_losses: NotRequired[int]
    """Times the job's worker was lost and the job ran again (absent before vts
    counted them); at the server's bound the job fails with `lease-lost`."""
    error: JobErrorInfo | None
    result: dict[str, Any] | None
    created_at: str
    updated_at: str
    started_at: str | None
    completed_at: str | None
    version: int


class CreatedJob(TypedDict):
    """The answer to `POST /translate`."""

    job_id: str
    status: JobStatus
    message: str


def is_final(job: Job) -> bool:
    """True once the job is completed, failed or cancelled."""
    return job["status"] in FINAL_STATUSES
