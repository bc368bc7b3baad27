"""Hypothesis properties of the job state machine and the retry backoff."""

from __future__ import annotations

from datetime import timedelta

from _support import T0, make_job
from hypothesis import given
from hypothesis import strategies as st

from vts.domain import (
    BACKOFF_CAP_SECONDS,
    STAGES,
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

# Settings caps VTS_MAX_ATTEMPTS at 100, so no job counts more attempts than that.
ATTEMPTS = st.integers(min_value=0, max_value=100)
JITTER = st.floats(min_value=0.0, max_value=1.0, exclude_max=True)

job_errors = st.builds(
    JobError,
    code=st.sampled_from(["download-timeout", "no-speech", "unsupported-codec"]),
    message=st.text(max_size=20),
    retryable=st.booleans(),
)
events: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        Claim,
        owner=st.sampled_from(["worker-a", "worker-b"]),
        lease_expires_at=st.integers(1, 600).map(lambda s: T0 + timedelta(seconds=s)),
    ),
    st.builds(
        Progress,
        progress=st.integers(-1000, 1000),
        stage=st.none() | st.sampled_from(STAGES),
    ),
    st.builds(Succeed, result=st.just({"output_url": "https://media.example/o.mp4"})),
    st.builds(Fail, error=job_errors, jitter=JITTER),
    st.just(ExpireLease()),
    st.just(Release()),
    st.just(Cancel()),
    st.just(Replay()),
)
# Time between two events; zero is allowed (two changes in the same instant).
steps = st.integers(min_value=0, max_value=10_000).map(
    lambda ms: timedelta(milliseconds=ms)
)


def accepts(job: Job, event: Event) -> bool:
    """The lifecycle table of DESIGN.md, written independently of vts.domain."""
    status = job.status
    match event:
        case Claim():
            return status is JobStatus.PENDING and job.attempts < job.max_attempts
        case Progress() | Succeed() | Fail() | ExpireLease() | Release():
            return status is JobStatus.PROCESSING
        case Cancel():
            return status in (JobStatus.PENDING, JobStatus.PROCESSING)
        case Replay():
            return status is JobStatus.FAILED
    raise AssertionError(event)  # pragma: no cover


def check_invariants(job: Job) -> None:
    assert 0 <= job.attempts <= job.max_attempts
    assert 0 <= job.progress <= 100
    assert (job.completed_at is not None) == job.status.is_final
    processing = job.status is JobStatus.PROCESSING
    assert (job.lease_owner is not None) == processing
    assert (job.lease_expires_at is not None) == processing
    assert (job.available_at is not None) == (job.status is JobStatus.PENDING)
    assert (job.result is not None) == (job.status is JobStatus.COMPLETED)
    if job.status is JobStatus.FAILED:
        assert job.error is not None
    if job.status is JobStatus.COMPLETED:
        assert job.error is None and job.progress == 100


@given(
    max_attempts=st.integers(min_value=1, max_value=5),
    history=st.lists(st.tuples(events, steps), max_size=60),
)
def test_transition_random_histories_keep_invariants(
    max_attempts: int, history: list[tuple[Event, timedelta]]
) -> None:
    job = make_job(max_attempts=max_attempts)
    check_invariants(job)
    now = T0
    for event, step in history:
        now += step
        expected = accepts(job, event)
        try:
            after = transition(job, event, now)
        except InvalidTransitionError:
            assert not expected, f"{event!r} refused on {job.status}"
            continue
        assert expected, f"{event!r} accepted on {job.status}"
        assert after.version == job.version + 1
        assert after.updated_at == now
        assert (after.job_id, after.created_at) == (job.job_id, job.created_at)
        check_invariants(after)
        if job.status.is_final:
            # Only a replay leaves a final state, and only from failed.
            assert isinstance(event, Replay) and job.status is JobStatus.FAILED
        job = after


@given(
    attempts=st.integers(min_value=1, max_value=5),
    extra=st.integers(min_value=0, max_value=3),
    jitter=JITTER,
)
def test_transient_fail_schedules_retry_within_backoff_window(
    attempts: int, extra: int, jitter: float
) -> None:
    job = make_job(attempts=attempts - 1, max_attempts=attempts + extra)
    job = transition(job, Claim("worker-a", T0 + timedelta(seconds=30)), T0)
    error = JobError("download-timeout", "timed out", retryable=True)
    after = transition(job, Fail(error, jitter=jitter), T0)
    if extra == 0:
        assert after.status is JobStatus.FAILED
        return
    ceiling = min(BACKOFF_CAP_SECONDS, 2.0 ** (attempts - 1))
    assert after.status is JobStatus.PENDING
    assert after.available_at is not None
    delay = (after.available_at - T0).total_seconds()
    assert ceiling / 2 - 1e-6 <= delay <= ceiling + 1e-6


@given(attempts=ATTEMPTS, jitter=JITTER)
def test_backoff_within_half_ceiling_and_ceiling(attempts: int, jitter: float) -> None:
    ceiling = min(BACKOFF_CAP_SECONDS, 1.0 * 2.0 ** max(attempts - 1, 0))
    delay = backoff_seconds(attempts, jitter)
    assert ceiling / 2 <= delay <= ceiling
    assert delay <= BACKOFF_CAP_SECONDS


@given(attempts=ATTEMPTS, jitter=JITTER)
def test_backoff_monotone_in_attempts(attempts: int, jitter: float) -> None:
    assert backoff_seconds(attempts, jitter) <= backoff_seconds(attempts + 1, jitter)


@given(attempts=ATTEMPTS, low=JITTER, high=JITTER)
def test_backoff_monotone_in_jitter(attempts: int, low: float, high: float) -> None:
    low, high = sorted((low, high))
    assert backoff_seconds(attempts, low) <= backoff_seconds(attempts, high)


@given(
    attempts=ATTEMPTS,
    jitter=JITTER,
    base=st.floats(min_value=0.01, max_value=10.0),
    cap=st.floats(min_value=0.01, max_value=3600.0),
)
def test_backoff_capped_for_any_base(
    attempts: int, jitter: float, base: float, cap: float
) -> None:
    delay = backoff_seconds(attempts, jitter, base=base, cap=cap)
    assert 0 < delay <= cap
    assert delay <= backoff_seconds(attempts + 1, jitter, base=base, cap=cap)


def test_backoff_reaches_cap_and_stays_there() -> None:
    assert backoff_seconds(1, 0.0) == 0.5
    assert backoff_seconds(2, 0.0) == 1.0
    assert backoff_seconds(7, 0.0) == BACKOFF_CAP_SECONDS / 2  # 2**6 > 60: capped
    assert backoff_seconds(100, 0.999) < BACKOFF_CAP_SECONDS
    assert backoff_seconds(100, 0.0) == BACKOFF_CAP_SECONDS / 2
