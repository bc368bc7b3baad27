"""Pure decisions about Events and pacing: which Kubernetes Event a phase change
posts, when a status patch is due, how long to wait before a retry. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vts_operator.mapping import (
    REJECTED,
    TERMINAL_PHASES,
    UNAUTHORIZED,
    attempt_text,
    error_text,
    phase_of,
)


class Event(NamedTuple):
    """A Kubernetes Event to post on the resource."""

    type: str
    """`Normal` or `Warning`."""
    reason: str
    message: str


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
        return Event("Warning", "Retrying", f"{error_text(error)}{attempt_text(job)}")
    if phase == "Processing":
        return Event(
            "Normal", "Processing", f"vts job {job_id} started{attempt_text(job)}"
        )
    if phase == "Completed":
        output = (job.get("result") or {}).get("output_url")
        return Event("Normal", "Completed", f"translated video: {output or 'ready'}")
    if phase == "Failed":
        return Event("Warning", "Failed", error_text(error) or "the vts job failed")
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
