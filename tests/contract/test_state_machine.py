"""The job lifecycle as a Hypothesis state machine, driven against a real store."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from datetime import timedelta
from typing import Any, TypeVar

import attrs
import pytest
from _postgres import PostgresServer
from _store_machine import StoreMachine, run_machine
from _support import T0
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
)

from vts.domain import (
    FINAL_STATUSES,
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
    new_job,
    transition,
)
from vts.errors import (
    IdempotencyKeyReusedError,
    InvalidTransitionError,
    VersionConflictError,
)
from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot

T = TypeVar("T")
OWNERS = ("worker-a", "worker-b")
LEASES = st.integers(1, 120).map(lambda s: timedelta(seconds=s))
# Idempotency keys and body fingerprints from small sets, so they collide.
CLAIMS = st.none() | st.builds(
    IdempotencyClaim, st.sampled_from(["k1", "k2"]), st.sampled_from(["fp1", "fp2"])
)
# What the worker holding a job reports: progress, success, a transient or a
# permanent failure (with backoff jitter), or giving the job back at shutdown.
ATTEMPT_EVENTS = st.one_of(
    st.builds(Progress, st.integers(-5, 105), st.sampled_from((None, *STAGES))),
    st.builds(Succeed, st.just({"output_url": "https://example.com/out.mp4"})),
    st.builds(
        Fail,
        st.builds(JobError, st.just("asr-down"), st.just("ASR failed"), st.booleans()),
        st.floats(0, 1, exclude_max=True),
    ),
    st.just(Release()),
)
FINAL_POKES = ATTEMPT_EVENTS | st.sampled_from(
    [Claim("worker-a", T0), ExpireLease(1), Cancel()]
)


def with_status(*statuses: JobStatus) -> Any:
    """Precondition: the model holds a job in one of `statuses`."""
    return precondition(lambda self: bool(self.ids(*statuses)))


class JobLifecycle(StoreMachine):
    """Service-level operations (transition, then compare-and-set write) on a store,
    checked after every step against a model of what the store must hold."""

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        # The model: every submitted job as the store must hold it, in submission
        # order; the transitions each went through; every version written.
        self.model: dict[str, Job] = {}
        self.transitions: Counter[str] = Counter()
        self.history: dict[str, list[Job]] = {}
        self.keys: dict[str, tuple[str, str]] = {}  # idempotency key -> (fp, job id)
        self.last_status: dict[str, JobStatus] = {}  # as the store held it last step
        self.replayed: set[str] = set()  # jobs replayed in this step
        # Counted apart from vts.domain, per job since its last replay: attempts that
        # failed, whether one is running or ended the job, leases lost.
        self.failures: Counter[str] = Counter()
        self.open_attempt: set[str] = set()
        self.lease_losses: Counter[str] = Counter()
        self.max_lease_losses = 1
        self.submitted = 0  # job ids are never reused, even after a purge

    def ids(self, *statuses: JobStatus) -> list[str]:
        return [i for i, job in self.model.items() if job.status in statuses]

    def accept(self, new: Job) -> None:
        """Record a transition the store accepted."""
        assert new.version == self.model[new.job_id].version + 1
        self.model[new.job_id] = new
        self.transitions[new.job_id] += 1
        self.history[new.job_id].append(new)

    def change(self, job_id: str, event: Event) -> Job:
        """What the service does: read, transition, write if the version still holds."""
        current = self.run(self.store.get(job_id, tenant=None))
        assert current == self.model[job_id]
        new = transition(current, event, self.now)
        self.run(self.store.update(new, current.version))
        self.accept(new)
        return new

    def due(self) -> list[Job]:
        """Pending jobs whose time has come, in the order claims must take them."""
        order = {job_id: n for n, job_id in enumerate(self.model)}
        pending = [self.model[i] for i in self.ids(JobStatus.PENDING)]
        ready = [j for j in pending if j.available_at and j.available_at <= self.now]
        return sorted(ready, key=lambda j: (j.available_at, order[j.job_id]))

    # --- rules ---------------------------------------------------------------------

    @initialize(
        jobs=st.lists(st.tuples(st.integers(1, 3), CLAIMS), min_size=1, max_size=6),
        max_lease_losses=st.integers(1, 3),
    )
    def submit_first(
        self, jobs: list[tuple[int, IdempotencyClaim | None]], max_lease_losses: int
    ) -> None:
        # The reaper's bound (VTS_MAX_LEASE_LOSSES) for this run.
        self.max_lease_losses = max_lease_losses
        # Hypothesis leaves some rules out of each run (swarm testing); seeding jobs
        # keeps the runs that leave out `submit` useful.
        for max_attempts, idem in jobs:
            self.submit(max_attempts, idem)

    @rule(max_attempts=st.integers(1, 3), idem=CLAIMS)
    def submit(self, max_attempts: int, idem: IdempotencyClaim | None) -> None:
        job_id = f"00000000-0000-4000-8000-{self.submitted:012d}"
        job = new_job(job_id, "en", "fr", {"n": self.submitted}, max_attempts, self.now)
        known = self.keys.get(idem.key) if idem else None
        if idem and known and known[0] != idem.fingerprint:
            with pytest.raises(IdempotencyKeyReusedError):
                self.run(self.store.create(job, idem))
            return
        stored, created = self.run(self.store.create(job, idem))
        if known:
            assert (stored, created) == (self.model[known[1]], False)
            return
        assert (stored, created) == (job, True)
        self.submitted += 1
        self.model[job_id] = job
        self.history[job_id] = [job]
        if idem:
            self.keys[idem.key] = (idem.fingerprint, job_id)

    @rule(owner=st.sampled_from(OWNERS), limit=st.integers(1, 3), lease=LEASES)
    def claim(self, owner: str, limit: int, lease: timedelta) -> None:
        now, expected = self.now, self.due()[:limit]
        event = Claim(owner, now + lease)
        pairs = self.run(
            self.store.claim(now, limit, lambda job: transition(job, event, now))
        )
        assert [s for _, s in pairs] == [Snapshot.of(job) for job, _ in pairs]
        claimed = [job for job, _ in pairs]
        assert [j.job_id for j in claimed] == [j.job_id for j in expected]
        for job in claimed:
            assert job == transition(self.model[job.job_id], event, now)
            self.accept(job)
            self.open_attempt.add(job.job_id)

    @rule(limits=st.tuples(st.integers(1, 3), st.integers(1, 3)), lease=LEASES)
    def claim_race(self, limits: tuple[int, int], lease: timedelta) -> None:
        """Both owners claim at once: they split the due jobs, never share one."""
        now, due = self.now, self.due()
        events = [Claim(owner, now + lease) for owner in OWNERS]

        async def both() -> list[list[Job]]:
            claims = await asyncio.gather(
                *(
                    self.store.claim(
                        now, limit, lambda job, e=event: transition(job, e, now)
                    )
                    for event, limit in zip(events, limits, strict=True)
                )
            )
            return [[job for job, _ in pairs] for pairs in claims]

        batches = self.run(both())
        taken = [job.job_id for batch in batches for job in batch]
        assert len(taken) == len(set(taken))
        assert set(taken) == {j.job_id for j in due[: sum(limits)]}
        for batch, event, limit in zip(batches, events, limits, strict=True):
            assert len(batch) <= limit
            for job in batch:
                assert job == transition(self.model[job.job_id], event, now)
                self.accept(job)
                self.open_attempt.add(job.job_id)

    @with_status(JobStatus.PROCESSING)
    @rule(data=st.data(), event=ATTEMPT_EVENTS)
    def work(self, data: st.DataObject, event: Event) -> None:
        """The running attempt reports progress, succeeds, fails or is given back."""
        job_id = data.draw(st.sampled_from(self.ids(JobStatus.PROCESSING)))
        self.change(job_id, event)
        if isinstance(event, Fail):
            self.failures[job_id] += 1
        if isinstance(event, Fail | Release):
            self.open_attempt.discard(job_id)

    @with_status(JobStatus.PENDING, JobStatus.PROCESSING)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ids = self.ids(JobStatus.PENDING, JobStatus.PROCESSING)
        self.change(data.draw(st.sampled_from(ids)), Cancel())

    @with_status(JobStatus.FAILED)
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        job_id = data.draw(st.sampled_from(self.ids(JobStatus.FAILED)))
        self.change(job_id, Replay())
        self.replayed.add(job_id)
        del self.failures[job_id], self.lease_losses[job_id]
        self.open_attempt.discard(job_id)

    @rule(seconds=st.floats(0.001, 90))
    def tick(self, seconds: float) -> None:
        """Time passes: backoffs run out, leases may lapse without being reclaimed."""
        self.now += timedelta(seconds=seconds)

    @rule(owner=st.sampled_from(OWNERS), lease=LEASES)
    def renew(self, owner: str, lease: timedelta) -> None:
        expires = self.now + lease
        asked = [*self.model, "00000000-0000-4000-8000-999999999999"]
        held = self.run(self.store.renew_leases(owner, asked, expires))
        processing = self.ids(JobStatus.PROCESSING)
        assert held == {i for i in processing if self.model[i].lease_owner == owner}
        for job_id in held:  # a renewal is no transition: same version
            self.model[job_id] = attrs.evolve(
                self.model[job_id], lease_expires_at=expires
            )

    @with_status(JobStatus.PROCESSING)
    @rule(data=st.data())
    def expire_leases(self, data: st.DataObject) -> None:
        """A worker died: its lease runs out, and the reclaimer takes its jobs back."""
        job_id = data.draw(st.sampled_from(self.ids(JobStatus.PROCESSING)))
        lapse = self.model[job_id].lease_expires_at
        assert lapse is not None
        self.now = max(self.now, lapse + timedelta(milliseconds=1))
        expired = self.run(self.store.expired(self.now, 100))
        assert {j.job_id for j in expired} == {
            i
            for i in self.ids(JobStatus.PROCESSING)
            if (lease := self.model[i].lease_expires_at) and lease < self.now
        }
        assert job_id in {j.job_id for j in expired}
        event = ExpireLease(self.max_lease_losses)
        for job in expired:
            assert job == self.model[job.job_id]
            new = transition(job, event, self.now)
            self.run(self.store.update(new, job.version))
            self.accept(new)
            self.lease_losses[job.job_id] += 1
            self.open_attempt.discard(job.job_id)

    @precondition(lambda self: any(len(h) > 1 for h in self.history.values()))
    @rule(data=st.data())
    def write_from_stale_snapshot(self, data: st.DataObject) -> None:
        """A writer holding an old copy of a job loses, and changes nothing."""
        job_id = data.draw(
            st.sampled_from([i for i, h in self.history.items() if len(h) > 1])
        )
        stale = data.draw(st.sampled_from(self.history[job_id][:-1]))
        # Final snapshots are never stale unless failed (replay is the only way out).
        event = Replay() if stale.status is JobStatus.FAILED else Cancel()
        with pytest.raises(VersionConflictError):
            self.run(
                self.store.update(transition(stale, event, self.now), stale.version)
            )

    @with_status(*FINAL_STATUSES)
    @rule(data=st.data(), event=FINAL_POKES)
    def change_final_job(self, data: st.DataObject, event: Event) -> None:
        """Nothing but a replay of a failed job leaves a final state."""
        job_id = data.draw(st.sampled_from(self.ids(*FINAL_STATUSES)))
        with pytest.raises(InvalidTransitionError):
            self.change(job_id, event)

    @with_status(*FINAL_STATUSES)
    @rule(age=st.floats(0, 120), limit=st.integers(1, 3))
    def purge(self, age: float, limit: int) -> None:
        """Retention deletes final jobs that finished before the cut, earliest first,
        and nothing else; a purged idempotency key is free again."""
        before = self.now - timedelta(seconds=age)
        finished = {
            job.job_id: job.completed_at
            for job in self.model.values()
            if job.status in FINAL_STATUSES and job.completed_at is not None
        }
        old = {job_id: at for job_id, at in finished.items() if at < before}
        purged = dict(self.run(self.store.purge_finished(before, limit)))
        assert len(purged) == min(limit, len(old))
        assert set(purged) <= set(old)
        assert all(self.model[i].status is status for i, status in purged.items())
        kept = [at for job_id, at in old.items() if job_id not in purged]
        if purged and kept:
            assert max(old[i] for i in purged) <= min(kept)
        for job_id in purged:
            del self.model[job_id]
            del self.history[job_id]
            self.transitions.pop(job_id, None)
            self.last_status.pop(job_id, None)
            self.failures.pop(job_id, None)
            self.lease_losses.pop(job_id, None)
            self.open_attempt.discard(job_id)
        self.keys = {k: v for k, v in self.keys.items() if v[1] not in purged}

    # --- invariants, checked against the store after every step ----------------------

    @invariant()
    def store_holds_the_model(self) -> None:
        page = self.run(self.store.list_jobs(None, 1000, None, tenant=None))
        stored = {job.job_id: job for job in page.jobs}
        assert list(stored) == list(reversed(self.model))  # every job, newest first
        assert stored == self.model
        for job_id, job in stored.items():
            assert job.version == 1 + self.transitions[job_id]
            assert 0 <= job.attempts <= job.max_attempts
            # Attempts count failures and the attempt in hand, never a lost lease;
            # lost leases are counted apart, and their bound alone ends a job
            # lease-lost.
            assert job.attempts == self.failures[job_id] + (job_id in self.open_attempt)
            assert job.lease_losses == self.lease_losses[job_id]
            assert job.lease_losses <= self.max_lease_losses
            lease_lost = job.error is not None and job.error.code == "lease-lost"
            assert (job.lease_losses == self.max_lease_losses) == (
                lease_lost and job.status is JobStatus.FAILED
            )
            leased = job.lease_owner is not None and job.lease_expires_at is not None
            assert leased == (job.status is JobStatus.PROCESSING)
            assert job.lease_owner in (None, *OWNERS)
            before = self.last_status.get(job_id, JobStatus.PENDING)
            if before.is_final and job.status is not before:
                assert before is JobStatus.FAILED and job.status is JobStatus.PENDING
                assert job_id in self.replayed
            self.last_status[job_id] = job.status
        self.replayed.clear()

    @invariant()
    def dead_letters_are_the_failed_jobs(self) -> None:
        dead = self.run(self.store.dead_letters(1000, tenant=None))
        assert sorted(j.job_id for j in dead) == sorted(self.ids(JobStatus.FAILED))
        ends = [job.completed_at for job in dead]
        assert all(a and b and a >= b for a, b in itertools.pairwise(ends))

    @invariant()
    def counts_and_next_due_agree(self) -> None:
        counts = self.run(self.store.count_by_status())
        expected = Counter(job.status for job in self.model.values())
        assert counts == {status: expected[status] for status in JobStatus}
        pending = [self.model[i].available_at for i in self.ids(JobStatus.PENDING)]
        assert self.run(self.store.next_due()) == min(
            filter(None, pending), default=None
        )


def test_job_lifecycle_keeps_store_invariants() -> None:
    run_machine(JobLifecycle, 100)


@pytest.mark.services
def test_job_lifecycle_keeps_postgres_invariants(
    postgres_server: PostgresServer,
) -> None:
    run_machine(JobLifecycle, 40, postgres_server)
