"""Pure mapping between TranslationJob resources and vts jobs: no I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

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

# Kubernetes condition reasons: CamelCase, starting with a letter.
_WORD = re.compile(r"[A-Za-z0-9]+")

Condition = dict[str, Any]
Status = dict[str, Any]


class SpecError(ValueError):
    """The spec lacks a required field or has one of the wrong type."""


class Event(NamedTuple):
    """A Kubernetes Event to post on the resource."""

    type: str
    """`Normal` or `Warning`."""
    reason: str
    message: str


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
        ready = (False, phase, f"{stage}, {job.get('progress') or 0}%{_attempt(job)}")
    elif phase == "Pending" and error:
        ready = (False, phase, f"{_error_text(error)}; waiting to retry{_attempt(job)}")
    elif phase == "Pending":
        ready = (False, phase, "waiting for a vts worker")
    elif phase == "Failed":
        ready = (False, phase, _error_text(error) or "the vts job failed")
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


# --- conditions -----------------------------------------------------------------------


def condition(
    kind: str,
    true: bool,
    reason: str,
    message: str,
    *,
    previous: Sequence[Mapping[str, Any]],
    now: datetime,
    generation: int | None = None,
) -> Condition:
    """A condition; its lastTransitionTime is `now` only if its status flipped, its
    observedGeneration the resource's generation it was computed from."""
    status = "True" if true else "False"
    prior = find_condition(previous, kind)
    if prior is not None and prior.get("status") == status:
        since = prior.get("lastTransitionTime") or timestamp(now)
    else:
        since = timestamp(now)
    made: Condition = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }
    if generation is not None:
        made["observedGeneration"] = generation
    return made


def find_condition(
    conditions: Sequence[Mapping[str, Any]], kind: str
) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def merge_conditions(
    made: Sequence[Condition], previous: Sequence[Mapping[str, Any]]
) -> list[Condition]:
    """`made` first; previous conditions of other types follow unchanged."""
    kinds = {c["type"] for c in made}
    return [*made, *(dict(c) for c in previous if c.get("type") not in kinds)]


def reason(code: str) -> str:
    """A condition reason from an error code: `asr-overloaded` -> `AsrOverloaded`."""
    words = _WORD.findall(code)
    camel = "".join(w[:1].upper() + w[1:] for w in words)
    if not camel:
        return "Unknown"
    return camel if camel[0].isalpha() else f"E{camel}"


def timestamp(now: datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- events and pacing ------------------------------------------------------------------


def phase_event(old_phase: str | None, job: Mapping[str, Any]) -> Event | None:
    """The Event announcing the move from `old_phase` to the job's phase, if it moved."""
    phase = phase_of(job)
    if phase == old_phase:
        return None
    job_id = job["job_id"]
    error = job.get("error") or {}
    if phase == "Pending" and old_phase is None:
        return Event("Normal", "Submitted", f"created vts job {job_id}")
    if phase == "Pending" and error:
        return Event("Warning", "Retrying", f"{_error_text(error)}{_attempt(job)}")
    if phase == "Processing":
        return Event("Normal", "Processing", f"vts job {job_id} started{_attempt(job)}")
    if phase == "Completed":
        output = (job.get("result") or {}).get("output_url")
        return Event("Normal", "Completed", f"translated video: {output or 'ready'}")
    if phase == "Failed":
        return Event("Warning", "Failed", _error_text(error) or "the vts job failed")
    if phase == "Cancelled":
        return Event("Normal", "Cancelled", f"vts job {job_id} was cancelled")
    return Event("Normal", phase, f"vts job {job_id} is {job['status']}")


def unauthorized_event(message: str) -> Event:
    return Event(
        "Warning", UNAUTHORIZED, f"vts refused the operator's API key: {message}"
    )


def rejected_event(detail: str) -> Event:
    return Event("Warning", REJECTED, f"vts rejected the spec: {detail}")


def cancel_abandoned_event(job_id: str, error: str) -> Event:
    return Event(
        "Warning",
        "CancelAbandoned",
        f"could not cancel vts job {job_id} ({error}); released the resource anyway",
    )


def should_patch(
    old_phase: str | None, new_phase: str, elapsed: float, interval: float
) -> bool:
    """Patch now? Always on a phase change (terminal included); progress at most
    once per `interval` seconds."""
    return new_phase != old_phase or new_phase in TERMINAL_PHASES or elapsed >= interval


def cancel_backoff(retry: int, base: float, cap: float = 60.0) -> float:
    """Seconds before retry number `retry` (0 first) of cancelling: doubling, capped."""
    return float(min(cap, base * 2 ** min(retry, 30)))


def unavailable_backoff(retry: int, base: float, cap: float, jitter: float) -> float:
    """Seconds before retry number `retry` (0 first) while vts stays unreachable:
    doubling from `base` up to `cap`, then a random half of it taken off (`jitter`
    in [0, 1)), so resources that lost vts together do not all return together."""
    ceiling = max(base, min(cap, base * 2.0 ** min(retry, 30)))
    return ceiling * (1 - jitter / 2)


def _error_text(error: Mapping[str, Any]) -> str:
    if not error:
        return ""
    return f"{error.get('code', 'error')}: {error.get('message', '')}".rstrip(": ")


def _attempt(job: Mapping[str, Any]) -> str:
    attempts, limit = job.get("attempts"), job.get("max_attempts")
    return f" (attempt {attempts} of {limit})" if attempts and limit else ""
