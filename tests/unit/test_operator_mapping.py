"""The operator's pure mapping: spec -> request, job -> status and conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vts_operator import conditions, events, mapping
from vts_operator.mapping import SpecError

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
JOB_ID = "00000000-0000-4000-8000-000000000001"
VIDEO = "https://example.com/video.mp4"
SPEC = {"sourceLanguage": "en", "targetLanguage": "es", "videoUrl": VIDEO}


def make_job(status: str = "pending", **changes: Any) -> dict[str, Any]:
    """A job dict as GET /jobs/{id} (or a watch) returns it."""
    job: dict[str, Any] = {
        "job_id": JOB_ID,
        "status": status,
        "progress": 0,
        "stage": None,
        "attempts": 0,
        "max_attempts": 3,
        "error": None,
        "result": None,
        "created_at": "2026-01-01T12:00:00.000Z",
        "updated_at": "2026-01-01T12:00:00.000Z",
        "started_at": None,
        "completed_at": None,
        "version": 1,
    }
    return {**job, **changes}


def conditions_by_type(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in status["conditions"]}


# --- spec -> request ------------------------------------------------------------------


def test_translation_request_puts_video_url_into_the_metadata() -> None:
    spec = {**SPEC, "metadata": {"title": "Intro", "tags": ["a"]}}
    assert mapping.translation_request(spec) == {
        "source_language": "en",
        "target_language": "es",
        "metadata": {"title": "Intro", "tags": ["a"], "video_url": VIDEO},
    }


def test_translation_request_video_url_wins_over_metadata() -> None:
    spec = {**SPEC, "metadata": {"video_url": "https://elsewhere.example/x.mp4"}}
    assert mapping.translation_request(spec)["metadata"] == {"video_url": VIDEO}


def test_translation_request_without_metadata_sends_only_the_video_url() -> None:
    assert mapping.translation_request(SPEC)["metadata"] == {"video_url": VIDEO}


def test_translation_request_names_every_missing_or_mistyped_field() -> None:
    with pytest.raises(SpecError) as caught:
        mapping.translation_request({"sourceLanguage": "en", "videoUrl": 5})
    assert str(caught.value) == (
        "spec.targetLanguage: required, a non-empty string; "
        "spec.videoUrl: required, a non-empty string"
    )
    with pytest.raises(SpecError, match=r"spec.metadata: must be an object"):
        mapping.translation_request({**SPEC, "metadata": ["x"]})


# --- job -> status ----------------------------------------------------------------------

STATUSES = [
    # job status, phase, Ready, Failed
    ("pending", "Pending", "False", "False"),
    ("processing", "Processing", "False", "False"),
    ("completed", "Completed", "True", "False"),
    ("failed", "Failed", "False", "True"),
    ("cancelled", "Cancelled", "False", "False"),
]


@pytest.mark.parametrize(("job_status", "phase", "ready", "failed"), STATUSES)
def test_job_status_maps_every_job_status(
    job_status: str, phase: str, ready: str, failed: str
) -> None:
    status = mapping.job_status(make_job(job_status), now=T0, generation=4)
    assert status["phase"] == phase
    assert (status["jobId"], status["observedGeneration"]) == (JOB_ID, 4)
    by_type = conditions_by_type(status)
    assert list(by_type) == ["Ready", "Failed"]
    assert (by_type["Ready"]["status"], by_type["Failed"]["status"]) == (ready, failed)
    for cond in by_type.values():
        assert cond["lastTransitionTime"] == "2026-01-01T12:00:00Z"
        assert cond["reason"] and cond["message"]


def test_job_status_copies_the_job_fields() -> None:
    result = {"output_url": "https://media.example/x.mp4", "duration_seconds": 2.0}
    job = make_job(
        "completed",
        progress=100,
        stage="muxing",
        started_at="2026-01-01T12:00:01.000Z",
        completed_at="2026-01-01T12:00:09.000Z",
        result=result,
    )
    status = mapping.job_status(job, now=T0)
    assert {k: v for k, v in status.items() if k != "conditions"} == {
        "phase": "Completed",
        "jobId": JOB_ID,
        "progress": 100,
        "stage": "muxing",
        "startedAt": "2026-01-01T12:00:01.000Z",
        "completedAt": "2026-01-01T12:00:09.000Z",
        "result": result,
        "error": None,  # a merge patch removes the field
    }
    ready = conditions_by_type(status)["Ready"]
    assert ready["message"] == "translated video: https://media.example/x.mp4"


def test_job_status_without_generation_leaves_observed_generation_alone() -> None:
    assert "observedGeneration" not in mapping.job_status(make_job(), now=T0)


def test_job_status_of_a_creation_answer() -> None:
    created = {"job_id": JOB_ID, "status": "pending", "message": "started"}
    status = mapping.job_status(created, now=T0)
    assert (status["phase"], status["jobId"], status["progress"]) == (
        "Pending",
        JOB_ID,
        None,
    )


def test_job_status_of_an_unknown_status_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown vts job status 'paused'"):
        mapping.job_status(make_job("paused"), now=T0)


def test_failed_job_condition_names_the_error() -> None:
    error = {"code": "no-speech", "message": "no speech found", "retryable": False}
    status = mapping.job_status(make_job("failed", error=error), now=T0)
    failed = conditions_by_type(status)["Failed"]
    assert (failed["status"], failed["reason"]) == ("True", "NoSpeech")
    assert failed["message"] == "no-speech: no speech found"
    assert status["error"] == error


def test_processing_condition_shows_stage_progress_and_attempt() -> None:
    job = make_job("processing", stage="translating", progress=45, attempts=2)
    ready = conditions_by_type(mapping.job_status(job, now=T0))["Ready"]
    assert ready["message"] == "translating, 45% (attempt 2 of 3)"


def test_last_transition_time_is_kept_while_the_status_holds() -> None:
    pending = mapping.job_status(make_job("pending"), now=T0)
    later = T0 + timedelta(minutes=5)
    processing = mapping.job_status(
        make_job("processing", progress=30),
        previous_conditions=pending["conditions"],
        now=later,
    )
    ready = conditions_by_type(processing)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Processing")
    assert ready["lastTransitionTime"] == "2026-01-01T12:00:00Z"

    completed = mapping.job_status(
        make_job("completed", progress=100),
        previous_conditions=processing["conditions"],
        now=later,
    )
    by_type = conditions_by_type(completed)
    assert by_type["Ready"]["lastTransitionTime"] == "2026-01-01T12:05:00Z"
    assert by_type["Failed"]["lastTransitionTime"] == "2026-01-01T12:00:00Z"


@given(st.lists(st.sampled_from(sorted(mapping.PHASES)), min_size=1, max_size=8))
def test_last_transition_time_changes_exactly_when_a_status_flips(
    statuses: list[str],
) -> None:
    previous: list[dict[str, Any]] = []
    for minute, job_status in enumerate(statuses):
        now = T0 + timedelta(minutes=minute)
        made = mapping.job_status(
            make_job(job_status), previous_conditions=previous, now=now
        )
        for cond in made["conditions"]:
            before = conditions.find_condition(previous, cond["type"])
            flipped = before is None or before["status"] != cond["status"]
            expected = (
                conditions.timestamp(now) if flipped else before["lastTransitionTime"]
            )
            assert cond["lastTransitionTime"] == expected
        previous = made["conditions"]


def test_conditions_of_other_types_are_kept() -> None:
    foreign = {"type": "Audited", "status": "True", "reason": "Ok", "message": ""}
    status = mapping.job_status(make_job(), previous_conditions=[foreign], now=T0)
    assert [c["type"] for c in status["conditions"]] == ["Ready", "Failed", "Audited"]
    assert status["conditions"][2] == foreign


def test_rejected_status_quotes_the_problem_detail() -> None:
    detail = "target_language: must differ from source_language"
    status = mapping.rejected_status(detail, now=T0, generation=1)
    by_type = conditions_by_type(status)
    message = f"vts rejected the spec: {detail}"
    assert status["phase"] == "Failed"
    assert status["observedGeneration"] == 1
    assert status["error"] == {
        "code": "rejected",
        "message": message,
        "retryable": False,
    }
    assert by_type["Failed"] == {
        "type": "Failed",
        "status": "True",
        "reason": "Rejected",
        "message": message,
        "lastTransitionTime": "2026-01-01T12:00:00Z",
        "observedGeneration": 1,
    }
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == (
        "False",
        "Rejected",
    )


def test_unavailable_status_changes_only_the_ready_condition() -> None:
    processing = mapping.job_status(make_job("processing"), now=T0)
    later = T0 + timedelta(seconds=30)
    status = mapping.unavailable_status(
        "connection refused", previous_conditions=processing["conditions"], now=later
    )
    assert set(status) == {"conditions"}  # the phase stays what it was
    by_type = conditions_by_type(status)
    assert by_type["Ready"]["reason"] == "VtsUnavailable"
    assert (
        by_type["Ready"]["message"] == "vts unreachable, retrying: connection refused"
    )
    assert by_type["Ready"]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert by_type["Failed"] == conditions_by_type(processing)["Failed"]


def test_unauthorized_status_keeps_the_phase_and_says_when_it_retries() -> None:
    processing = mapping.job_status(make_job("processing"), now=T0)
    later = T0 + timedelta(seconds=30)
    status = mapping.unauthorized_status(
        "invalid API key (HTTP 401)",
        retry_in=60,
        previous_conditions=processing["conditions"],
        now=later,
    )
    assert set(status) == {"conditions"}  # not Failed: the spec is fine
    ready = conditions_by_type(status)["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "Unauthorized")
    assert ready["message"] == (
        "vts refused the operator's API key, retrying in 60s: "
        "invalid API key (HTTP 401)"
    )
    assert ready["lastTransitionTime"] == "2026-01-01T12:00:00Z"  # still False
    assert conditions_by_type(status)["Failed"]["status"] == "False"
    assert events.unauthorized_event("no API key (HTTP 401)") == events.Event(
        "Warning",
        "Unauthorized",
        "vts refused the operator's API key: no API key (HTTP 401)",
    )


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("asr-overloaded", "AsrOverloaded"),
        ("unsupported-codec", "UnsupportedCodec"),
        ("timeout", "Timeout"),
        ("404-gone", "E404Gone"),
        ("--", "Unknown"),
    ],
)
def test_reason_is_camel_case_starting_with_a_letter(code: str, reason: str) -> None:
    assert conditions.reason(code) == reason


def test_timestamp_is_utc_to_the_second() -> None:
    paris = timezone(timedelta(hours=1))
    assert conditions.timestamp(datetime(2026, 1, 1, 14, 0, 0, 999_999, paris)) == (
        "2026-01-01T13:00:00Z"
    )


def test_every_condition_carries_the_generation_it_was_computed_from() -> None:
    made = [
        mapping.job_status(make_job("processing"), now=T0, generation=3),
        mapping.job_status(make_job("completed"), now=T0, generation=3),
        mapping.rejected_status("bad", now=T0, generation=3),
        mapping.failed_status("JobLost", "gone", code="x", now=T0, generation=3),
        mapping.unavailable_status("refused", now=T0, generation=3),
        mapping.unauthorized_status("401", retry_in=60, now=T0, generation=3),
    ]
    for status in made:
        assert status["observedGeneration"] == 3
        assert status["conditions"]
        assert all(c["observedGeneration"] == 3 for c in status["conditions"])
    # a condition that did not change keeps its time but tells the new generation
    first = mapping.job_status(make_job("processing"), now=T0, generation=1)
    later = T0 + timedelta(seconds=5)
    second = mapping.unavailable_status(
        "refused", previous_conditions=first["conditions"], now=later, generation=2
    )
    (ready,) = [c for c in second["conditions"] if c["type"] == "Ready"]
    assert (ready["observedGeneration"], ready["lastTransitionTime"]) == (
        2,
        "2026-01-01T12:00:00Z",
    )
