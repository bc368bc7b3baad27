"""The operator's pure decisions: Events on phase changes, status pacing, backoff."""

from __future__ import annotations

from typing import Any

import pytest
from vts_operator import events
from vts_operator.events import Event

JOB_ID = "00000000-0000-4000-8000-000000000001"


def make_job(status: str = "pending", **changes: Any) -> dict[str, Any]:
    """The job fields Events are made of (a watch sends the whole job)."""
    job = {"job_id": JOB_ID, "status": status, "attempts": 0, "max_attempts": 3}
    return {**job, "error": None, "result": None, **changes}


def test_phase_event_only_when_the_phase_moves() -> None:
    assert events.phase_event("Processing", make_job("processing", progress=50)) is None


@pytest.mark.parametrize(
    ("old", "job", "event"),
    [
        (None, make_job(), Event("Normal", "Submitted", f"created vts job {JOB_ID}")),
        (
            "Pending",
            make_job("processing", attempts=1),
            Event("Normal", "Processing", f"vts job {JOB_ID} started (attempt 1 of 3)"),
        ),
        (
            "Processing",
            make_job(
                "pending",
                attempts=1,
                error={"code": "asr-overloaded", "message": "busy", "retryable": True},
            ),
            Event("Warning", "Retrying", "asr-overloaded: busy (attempt 1 of 3)"),
        ),
        (
            "Processing",
            make_job("completed", result={"output_url": "https://m.example/x.mp4"}),
            Event("Normal", "Completed", "translated video: https://m.example/x.mp4"),
        ),
        (
            "Processing",
            make_job(
                "failed",
                error={"code": "no-speech", "message": "silence", "retryable": False},
            ),
            Event("Warning", "Failed", "no-speech: silence"),
        ),
        (
            "Pending",
            make_job("cancelled"),
            Event("Normal", "Cancelled", f"vts job {JOB_ID} was cancelled"),
        ),
    ],
    ids=["submitted", "processing", "retrying", "completed", "failed", "cancelled"],
)
def test_phase_event_announces_each_move(
    old: str | None, job: dict[str, Any], event: Event
) -> None:
    assert events.phase_event(old, job) == event


def test_rejected_event_quotes_the_detail() -> None:
    assert events.rejected_event("metadata.video_url: not a URL") == Event(
        "Warning", "Rejected", "vts rejected the spec: metadata.video_url: not a URL"
    )


def test_cancel_abandoned_event_names_job_and_error() -> None:
    event = events.cancel_abandoned_event(JOB_ID, "connection refused")
    assert (event.type, event.reason) == ("Warning", "CancelAbandoned")
    assert JOB_ID in event.message and "connection refused" in event.message


# --- pacing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "elapsed", "patch"),
    [
        ("Pending", "Processing", 0.0, True),  # a phase change goes at once
        ("Processing", "Processing", 0.1, False),  # progress waits for the interval
        ("Processing", "Processing", 1.0, True),
        ("Processing", "Completed", 0.0, True),
        ("Completed", "Completed", 0.0, True),  # the terminal snapshot is never held
        (None, "Pending", 0.0, True),
    ],
)
def test_should_patch_paces_progress_but_never_a_phase(
    old: str | None, new: str, elapsed: float, patch: bool
) -> None:
    assert events.should_patch(old, new, elapsed, interval=1.0) is patch


def test_cancel_backoff_doubles_up_to_the_cap() -> None:
    delays = [events.cancel_backoff(retry, base=10.0) for retry in range(5)]
    assert delays == [10.0, 20.0, 40.0, 60.0, 60.0]
    assert events.cancel_backoff(10_000, base=0.5, cap=3.0) == 3.0


def test_unavailable_backoff_doubles_up_to_the_cap_with_jitter() -> None:
    ceilings = [events.unavailable_backoff(n, 10.0, 300.0, 0.0) for n in range(8)]
    assert ceilings == [10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]
    assert events.unavailable_backoff(10_000, 10.0, 300.0, 0.0) == 300.0
    # jitter takes off up to half, never more, never makes it shorter than half
    assert events.unavailable_backoff(2, 10.0, 300.0, 0.999) == pytest.approx(20.02)
    spread = {events.unavailable_backoff(3, 10.0, 300.0, j / 10) for j in range(10)}
    assert len(spread) == 10 and min(spread) > 40.0 and max(spread) == 80.0
    # a cap below the base never shortens the first wait
    assert events.unavailable_backoff(0, 10.0, 5.0, 0.0) == 10.0
