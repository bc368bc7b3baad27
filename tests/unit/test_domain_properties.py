"""Hypothesis properties of the job state machine and the retry backoff."""

from __future__ import annotations

from datetime import timedelta

import attrs
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


def job_events(max_lease_losses: int) -> st.SearchStrategy[Event]:
    """Any event, lost leases reclaimed under the bound `max_lease_losses`."""
    return st.one_of(
        st.builds(
            Claim,
            owner=st.sampled_from(["worker-a", "worker-b"]),
            lease_expires_at=st.integers(1, 600).map(
                lambda s: T0 + timedelta(seconds=s)
            ),
        ),
        st.builds(
            Progress,
            progress=st.integers(-1000, 1000),
            stage=st.none() | st.sampled_from(STAGES),
        ),
        st.builds(
            Succeed, result=st.just({"output_url": "https://media.example/o.mp4"})
        ),
        st.builds(Fail, error=job_errors, jitter=JITTER),
        st.just(ExpireLease(max_lease_losses)),
        st.just(Release()),
        st.just(Cancel()),
        st.just(Replay()),
    )


# Time between two events; zero is allowed (two changes in the same instant).
steps = st.integers(min_value=0, max_value=10_000).map(
    lambda ms: timedelta(milliseconds=ms)
)


def accepts(job: Job, event: Event) -> bool:
    """The lifecycle table of docs/architecture.md, written independently of
    vts.domain."""
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


def check_invariants(job: Job, max_lease_losses: int) -> None:
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
    # Lost leases are bounded apart: reaching the bound is what ends a job lease-lost.
    assert 0 <= job.lease_losses <= max_lease_losses
    lease_lost = job.error is not None and job.error.code == "lease-lost"
    assert (job.lease_losses == max_lease_losses) == (
        lease_lost and job.status is JobStatus.FAILED
    )


@attrs.define
class Tally:
    """What the history did to the job, counted independently of vts.domain: the
    attempts that failed, whether an attempt is running or ended the job (success,
    or a cancel while it ran), and the leases lost; a replay starts all over."""

    failures: int = 0
    open_attempt: bool = False
    lease_losses: int = 0

    def record(self, event: Event) -> None:
        match event:
            case Claim():
                self.open_attempt = True
            case Fail():
                self.failures += 1
                self.open_attempt = False
            case ExpireLease():
                self.lease_losses += 1
                self.open_attempt = False
            case Release():
                self.open_attempt = False
            case Replay():
                self.failures, self.lease_losses = 0, 0
                self.open_attempt = False

    def check(self, job: Job) -> None:
        """Attempts count failures (and the attempt in hand), never a lost lease."""
        assert job.attempts == self.failures + self.open_attempt
        assert job.lease_losses == self.lease_losses


@given(
    max_attempts=st.integers(min_value=1, max_value=5),
    history=st.integers(min_value=1, max_value=4).flatmap(
        lambda bound: st.tuples(
            st.just(bound), st.lists(st.tuples(job_events(bound), steps), max_size=60)
        )
    ),
)
def test_transition_random_histories_keep_invariants(
    max_attempts: int, history: tuple[int, list[tuple[Event, timedelta]]]
) -> None:
    max_lease_losses, events = history
    job = make_job(max_attempts=max_attempts)
    check_invariants(job, max_lease_losses)
    tally = Tally()
    now = T0
    for event, step in events:
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
        check_invariants(after, max_lease_losses)
        tally.record(event)
        tally.check(after)
        if job.status.is_final:
            # Only a replay leaves a final state, and only from failed.
            assert isinstance(event, Replay) and job.status is JobStatus.FAILED
        job = after


@given(
    max_attempts=st.integers(min_value=1, max_value=5),
    max_lease_losses=st.integers(min_value=1, max_value=8),
    failures=st.integers(min_value=0, max_value=4),
)
def test_lost_leases_never_fail_a_job_before_their_own_bound(
    max_attempts: int, max_lease_losses: int, failures: int
) -> None:
    """However few attempts are left, each lost lease gives the job back whole; the
    bound-th loss, and only it, dead-letters the job as lease-lost."""
    failures = min(failures, max_attempts - 1)
    job = make_job(attempts=failures, max_attempts=max_attempts)
    expire = ExpireLease(max_lease_losses)
    for loss in range(1, max_lease_losses + 1):
        running = transition(job, Claim("worker-a", T0 + timedelta(seconds=30)), T0)
        job = transition(running, expire, T0 + timedelta(seconds=31))
        assert job.attempts == failures
        assert job.lease_losses == loss
        if loss < max_lease_losses:
            assert job.status is JobStatus.PENDING
        else:
            assert job.status is JobStatus.FAILED
            assert job.error is not None and job.error.code == "lease-lost"


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
