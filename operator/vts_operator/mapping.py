"""Pure mapping between TranslationJob resources and vts jobs: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from vts_operator.conditions import (
    Condition,
    condition,
    merge_conditions,
    reason,
)

GROUP = "vts.dev"
VERSION = "v1alpha1"
PLURAL = "translationjobs"

PHASES: Mapping[str, str] = {
    "pending": "Pending",
    "processing": "Processing",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Cancelled",
}
"""vts job status -> TranslationJob phase."""

TERMINAL_PHASES = frozenset({"Completed", "Failed", "Cancelled"})
"""A resource in one of these phases never changes again."""

READY = "Ready"
FAILED = "Failed"
REJECTED = "Rejected"
UNAVAILABLE = "VtsUnavailable"
UNAUTHORIZED = "Unauthorized"

Status = dict[str, Any]


class SpecError(ValueError):
    """The spec lacks a required field or has one of the wrong type."""


# --- spec -> request ----------------------------------------------------------------


def translation_request(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments of `TranslationClient.start_translation` for a spec.

    `spec.metadata` is passed through with `video_url` set from `spec.videoUrl`
    (which wins over a `video_url` in the metadata). Raises SpecError naming every
    missing or mistyped field (the CRD's schema normally rules these out).
    """
    problems = [
        f"spec.{field}: required, a non-empty string"
        for field in ("sourceLanguage", "targetLanguage", "videoUrl")
        if not isinstance(spec.get(field), str) or not spec.get(field)
    ]
    metadata = spec.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        problems.append("spec.metadata: must be an object")
    if problems:
        raise SpecError("; ".join(problems))
    return {
        "source_language": spec["sourceLanguage"],
        "target_language": spec["targetLanguage"],
        "metadata": {**metadata, "video_url": spec["videoUrl"]},
    }


# --- job -> status --------------------------------------------------------------------


def phase_of(job: Mapping[str, Any]) -> str:
    """The phase for a job's (or a creation answer's) `status`; ValueError if unknown."""
    try:
        return PHASES[job["status"]]
    except KeyError:
        raise ValueError(f"unknown vts job status {job.get('status')!r}") from None


def job_status(
    job: Mapping[str, Any],
    *,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """The status patch mirroring a vts job (a full job or the POST /translate answer).

    Fields the job does not have are None, which a merge patch removes.
    """
    phase = phase_of(job)
    status: Status = {
        "phase": phase,
        "jobId": job["job_id"],
        "progress": job.get("progress"),
        "stage": job.get("stage"),
        "startedAt": job.get("started_at"),
        "completedAt": job.get("completed_at"),
        "result": job.get("result"),
        "error": job.get("error"),
        "conditions": phase_conditions(
            phase, job, previous=previous_conditions, now=now, generation=generation
        ),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def phase_conditions(
    phase: str,
    job: Mapping[str, Any],
    *,
    previous: Sequence[Mapping[str, Any]],
    now: datetime,
    generation: int | None = None,
) -> list[Condition]:
    """Ready and Failed for a job in `phase`; other condition types are kept."""
    error = job.get("error") or {}
    if phase == "Completed":
        output = (job.get("result") or {}).get("output_url")
        ready = (True, phase, f"translated video: {output}" if output else "done")
    elif phase == "Processing":
        stage = job.get("stage") or "starting"
        ready = (
            False,
            phase,
            f"{stage}, {job.get('progress') or 0}%{attempt_text(job)}",
        )
    elif phase == "Pending" and error:
        ready = (
            False,
            phase,
            f"{error_text(error)}; waiting to retry{attempt_text(job)}",
        )
    elif phase == "Pending":
        ready = (False, phase, "waiting for a vts worker")
    elif phase == "Failed":
        ready = (False, phase, error_text(error) or "the vts job failed")
    else:
        ready = (False, phase, "the vts job was cancelled")
    if phase == "Failed":
        failed = (True, reason(error.get("code") or "JobFailed"), ready[2])
    else:
        failed = (False, phase, "the vts job has not failed")
    made = [
        condition(READY, *ready, previous=previous, now=now, generation=generation),
        condition(FAILED, *failed, previous=previous, now=now, generation=generation),
    ]
    return merge_conditions(made, previous)


def rejected_status(
    detail: str,
    *,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """Failed, because vts (or the operator) rejected the spec; the Failed
    condition quotes `detail` (the API's problem detail)."""
    return failed_status(
        REJECTED,
        f"vts rejected the spec: {detail}",
        code="rejected",
        previous_conditions=previous_conditions,
        now=now,
        generation=generation,
    )


def failed_status(
    why: str,
    message: str,
    *,
    code: str,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """Failed for a reason of the operator's own (not a job failure): Ready=False and
    Failed=True, both with reason `why` and `message`; `error` gets `code`."""
    made = [
        condition(
            kind,
            kind == FAILED,
            why,
            message,
            previous=previous_conditions,
            now=now,
            generation=generation,
        )
        for kind in (READY, FAILED)
    ]
    status: Status = {
        "phase": "Failed",
        "error": {"code": code, "message": message, "retryable": False},
        "conditions": merge_conditions(made, previous_conditions),
    }
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def unavailable_status(
    message: str,
    *,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """Ready=False (VtsUnavailable) while vts cannot be reached; the phase stays."""
    return not_ready_status(
        UNAVAILABLE,
        f"vts unreachable, retrying: {message}",
        previous_conditions=previous_conditions,
        now=now,
        generation=generation,
    )


def unauthorized_status(
    message: str,
    *,
    retry_in: float,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """Ready=False (Unauthorized) while vts refuses the operator's API key (401) or
    its scope (403). The phase stays: the spec is fine, the operator's key is not."""
    return not_ready_status(
        UNAUTHORIZED,
        f"vts refused the operator's API key, retrying in {retry_in:g}s: {message}",
        previous_conditions=previous_conditions,
        now=now,
        generation=generation,
    )


def not_ready_status(
    why: str,
    message: str,
    *,
    previous_conditions: Sequence[Mapping[str, Any]] = (),
    now: datetime,
    generation: int | None = None,
) -> Status:
    """Only the Ready condition, False with reason `why` (and observedGeneration);
    every other field stays."""
    ready = condition(
        READY,
        False,
        why,
        message,
        previous=previous_conditions,
        now=now,
        generation=generation,
    )
    status: Status = {"conditions": merge_conditions([ready], previous_conditions)}
    if generation is not None:
        status["observedGeneration"] = generation
    return status


def error_text(error: Mapping[str, Any]) -> str:
    """`code: message` of a job error, for condition messages and Events."""
    if not error:
        return ""
    return f"{error.get('code', 'error')}: {error.get('message', '')}".rstrip(": ")


def attempt_text(job: Mapping[str, Any]) -> str:
    """` (attempt 2 of 3)`, or nothing if the job does not say."""
    attempts, limit = job.get("attempts"), job.get("max_attempts")
    return f" (attempt {attempts} of {limit})" if attempts and limit else ""
