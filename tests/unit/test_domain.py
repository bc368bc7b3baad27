"""The job state machine in vts.domain: every allowed and refused transition, by example."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from _support import T0, make_job

from vts.domain import (
    Cancel,
    Claim,
    Event,
    ExpireLease,
    Fail,
    Job,
    JobError,
    JobStatus,
    Progress,
    Release,
    Replay,
    Succeed,
    backoff_seconds,
    transition,
)
from vts.errors import InvalidTransitionError

LEASE = timedelta(seconds=30)
MAX_LEASE_LOSSES = 3
EXPIRE = ExpireLease(MAX_LEASE_LOSSES)
RESULT = {"output_url": "https://media.example/out.mp4"}
TRANSIENT = JobError("asr-overloaded", "the recognizer is overloaded", retryable=True)
PERMANENT = JobError("no-speech", "no speech in the audio track", retryable=False)

EVENTS: dict[str, Event] = {
    "claim": Claim("worker-1", T0 + LEASE),
    "progress": Progress(40, "translating"),
    "succeed": Succeed(RESULT),
    "fail": Fail(TRANSIENT, jitter=0.5),
    "expire_lease": EXPIRE,
    "release": Release(),
    "cancel": Cancel(),
    "replay": Replay(),
}
ALLOWED: dict[JobStatus, set[str]] = {
    JobStatus.PENDING: {"claim", "cancel"},
    JobStatus.PROCESSING: {
        "progress",
        "succeed",
        "fail",
        "expire_lease",
        "release",
        "cancel",
    },
    JobStatus.COMPLETED: set(),
    JobStatus.FAILED: {"replay"},
    JobStatus.CANCELLED: set(),
}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def claimed(job: Job | None = None, now: datetime = T0) -> Job:
    job = job or make_job()
    return transition(job, Claim("worker-1", now + LEASE), now)


def job_in(status: JobStatus) -> Job:
    """A job that reached `status` through the state machine itself."""
    match status:
        case JobStatus.PENDING:
            return make_job()
        case JobStatus.PROCESSING:
            return claimed()
        case JobStatus.COMPLETED:
            return transition(claimed(), Succeed(RESULT), at(1))
        case JobStatus.FAILED:
            return transition(claimed(), Fail(PERMANENT), at(1))
        case JobStatus.CANCELLED:
            return transition(make_job(), Cancel(), at(1))
    raise AssertionError(status)  # pragma: no cover


ALL_PAIRS = [(status, name) for status in JobStatus for name in EVENTS]


@pytest.mark.parametrize(
    ("status", "event_name"),
    [pair for pair in ALL_PAIRS if pair[1] in ALLOWED[pair[0]]],
)
def test_transition_allowed_bumps_version_and_stamps_time(
    status: JobStatus, event_name: str
) -> None:
    job = job_in(status)
    now = at(5)
    after = transition(job, EVENTS[event_name], now)
    assert after.version == job.version + 1
    assert after.updated_at == now
    assert after.job_id == job.job_id
    assert after.created_at == job.created_at


@pytest.mark.parametrize(
    ("status", "event_name"),
    [pair for pair in ALL_PAIRS if pair[1] not in ALLOWED[pair[0]]],
)
def test_transition_refused_raises_invalid_transition(
    status: JobStatus, event_name: str
) -> None:
    job = job_in(status)
    with pytest.raises(InvalidTransitionError, match=status.value):
        transition(job, EVENTS[event_name], at(5))


def test_claim_takes_lease_and_counts_attempt() -> None:
    job = transition(make_job(), Claim("worker-7", at(30)), at(1))
    assert job.status is JobStatus.PROCESSING
    assert job.attempts == 1
    assert (job.lease_owner, job.lease_expires_at) == ("worker-7", at(30))
    assert job.started_at == at(1)
    assert job.available_at is None
    assert job.completed_at is None


def test_claim_refused_when_attempts_used_up() -> None:
    job = make_job(attempts=3, max_attempts=3)
    with pytest.raises(InvalidTransitionError):
        transition(job, Claim("worker-1", at(30)), at(1))


def test_claim_again_keeps_first_start_and_resets_progress() -> None:
    job = transition(claimed(), Progress(60, "synthesizing"), at(1))
    job = transition(job, Fail(TRANSIENT), at(2))
    job = claimed(job, now=at(10))
    assert job.started_at == T0
    assert job.attempts == 2
    assert (job.progress, job.stage) == (0, None)


@pytest.mark.parametrize(
    ("reported", "stored"), [(-5, 0), (0, 0), (55, 55), (250, 100)]
)
def test_progress_is_clamped_to_percent(reported: int, stored: int) -> None:
    job = transition(claimed(), Progress(reported, "transcribing"), at(1))
    assert (job.progress, job.stage) == (stored, "transcribing")
    assert job.status is JobStatus.PROCESSING


def test_succeed_completes_with_result_and_drops_lease() -> None:
    job = transition(claimed(), Succeed(RESULT), at(3))
    assert job.status is JobStatus.COMPLETED
    assert job.result == RESULT
    assert job.progress == 100
    assert job.completed_at == at(3)
    assert job.lease_owner is None and job.lease_expires_at is None
    assert job.error is None


@pytest.mark.parametrize("jitter", [0.0, 0.25, 0.999])
def test_transient_failure_with_attempts_left_retries_after_backoff(
    jitter: float,
) -> None:
    job = claimed(make_job(attempts=1, max_attempts=5))  # second attempt
    job = transition(job, Fail(TRANSIENT, jitter=jitter), at(4))
    assert job.status is JobStatus.PENDING
    assert job.error == TRANSIENT
    assert job.lease_owner is None
    assert job.completed_at is None
    # Second attempt: ceiling 2 s, so the retry waits between 1 s and 2 s.
    assert job.available_at is not None
    delay = (job.available_at - at(4)).total_seconds()
    assert 1.0 <= delay <= 2.0
    assert delay == pytest.approx(backoff_seconds(2, jitter))


def test_transient_failure_on_last_attempt_dead_letters() -> None:
    job = claimed(make_job(attempts=2, max_attempts=3))
    job = transition(job, Fail(TRANSIENT), at(4))
    assert job.status is JobStatus.FAILED
    assert job.error == TRANSIENT
    assert job.completed_at == at(4)
    assert job.available_at is None
    assert job.lease_owner is None


def test_permanent_failure_dead_letters_at_once() -> None:
    job = transition(claimed(), Fail(PERMANENT), at(4))
    assert job.status is JobStatus.FAILED
    assert job.attempts == 1
    assert job.error == PERMANENT
    assert job.completed_at == at(4)


def test_expire_lease_makes_job_claimable_now_without_using_an_attempt() -> None:
    job = transition(claimed(), EXPIRE, at(31))
    assert job.status is JobStatus.PENDING
    assert job.available_at == at(31)
    assert job.attempts == 0  # the claim's attempt is given back
    assert job.lease_losses == 1
    assert job.error is None
    assert job.lease_owner is None and job.lease_expires_at is None


def test_expire_lease_on_the_last_attempt_keeps_the_job_alive() -> None:
    """A crash during the only attempt left is no failure of the job."""
    job = claimed(make_job(max_attempts=1))
    job = transition(job, EXPIRE, at(31))
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0
    again = claimed(job, now=at(32))
    assert again.attempts == 1
    assert transition(again, Succeed(RESULT), at(33)).status is JobStatus.COMPLETED


def test_expire_lease_keeps_the_last_failure_of_the_job() -> None:
    failed_once = transition(claimed(), Fail(TRANSIENT), at(1))
    job = transition(claimed(failed_once, now=at(5)), EXPIRE, at(40))
    assert job.status is JobStatus.PENDING
    assert job.attempts == 1  # the failure counts, the lost lease does not
    assert job.error == TRANSIENT


def test_expire_lease_at_the_bound_dead_letters_as_lease_lost() -> None:
    job = make_job(max_attempts=1)
    for n in range(MAX_LEASE_LOSSES - 1):
        job = transition(claimed(job, now=at(n * 60)), EXPIRE, at(n * 60 + 31))
        assert (job.status, job.lease_losses) == (JobStatus.PENDING, n + 1)
    job = transition(claimed(job, now=at(600)), EXPIRE, at(631))
    assert job.status is JobStatus.FAILED
    assert job.lease_losses == MAX_LEASE_LOSSES
    assert job.attempts == 0
    assert job.error is not None
    assert job.error.code == "lease-lost"
    assert job.error.retryable is False
    assert f"lost {MAX_LEASE_LOSSES} times" in job.error.message
    assert job.completed_at == at(631)
    assert job.lease_owner is None and job.available_at is None


def test_expire_lease_bound_of_one_dead_letters_at_the_first_loss() -> None:
    job = transition(claimed(), ExpireLease(1), at(31))
    assert job.status is JobStatus.FAILED
    assert job.error is not None and job.error.code == "lease-lost"


@pytest.mark.parametrize("bound", [0, -1])
def test_expire_lease_needs_a_bound_of_at_least_one(bound: int) -> None:
    with pytest.raises(ValueError, match="max_lease_losses"):
        ExpireLease(bound)


def test_release_gives_attempt_back() -> None:
    job = transition(claimed(), Release(), at(2))
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0
    assert job.available_at == at(2)
    assert job.lease_owner is None


@pytest.mark.parametrize("status", [JobStatus.PENDING, JobStatus.PROCESSING])
def test_cancel_from_live_states(status: JobStatus) -> None:
    job = transition(job_in(status), Cancel(), at(2))
    assert job.status is JobStatus.CANCELLED
    assert job.completed_at == at(2)
    assert job.available_at is None
    assert job.lease_owner is None and job.lease_expires_at is None


def test_replay_resets_attempts_lease_losses_error_and_result() -> None:
    failed = claimed(make_job(attempts=2, max_attempts=3))
    failed = transition(failed, Progress(70, "synthesizing"), at(1))
    failed = transition(failed, Fail(TRANSIENT), at(2))
    lost = transition(claimed(make_job(), now=at(3)), ExpireLease(1), at(40))
    for before in (failed, lost):
        replayed = transition(before, Replay(), at(41))
        assert (replayed.attempts, replayed.lease_losses) == (0, 0)
    job = transition(failed, Replay(), at(9))
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0
    assert job.error is None and job.result is None
    assert (job.progress, job.stage) == (0, None)
    assert job.started_at is None and job.completed_at is None
    assert job.available_at == at(9)
    # A replayed job runs again with its full set of attempts.
    again = claimed(job, now=at(10))
    assert again.attempts == 1
    assert transition(again, Succeed(RESULT), at(11)).status is JobStatus.COMPLETED
