"""The event log as a Hypothesis state machine: random job changes interleave with
consumers that page through `events_after(cursor)`; whatever the interleaving, what
each consumer has read is exactly the committed sequence (its tenant's, its jobs'),
in commit order, with no gap and no duplicate."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

import pytest
from _postgres import PostgresServer
from _store_machine import StoreMachine, run_machine
from _support import T0
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from vts.domain import (
    Cancel,
    Claim,
    Event,
    Job,
    JobStatus,
    Progress,
    Succeed,
    new_job,
    transition,
)
from vts.errors import VersionConflictError
from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot

TENANTS = ("acme", "globex")
NARROWED = (
    "00000000-0000-4000-8000-000000000000",
    "00000000-0000-4000-8000-000000000002",
    "00000000-0000-4000-8000-000000000005",
)
# name -> (tenant, job ids): every tenant's stream, each tenant's, a few jobs'.
CONSUMERS: dict[str, tuple[str | None, tuple[str, ...] | None]] = {
    "all": (None, None),
    "acme": ("acme", None),
    "globex": ("globex", None),
    "some jobs": (None, NARROWED),
    "some of acme": ("acme", NARROWED),
}
CLAIMS = st.none() | st.builds(IdempotencyClaim, st.just("k"), st.just("fp"))


def wanted(snap: Snapshot, consumer: str) -> bool:
    tenant, job_ids = CONSUMERS[consumer]
    return (tenant is None or snap.tenant == tenant) and (
        job_ids is None or snap.job_id in job_ids
    )


class EventLog(StoreMachine):
    def __init__(self) -> None:
        super().__init__()
        self.committed: list[Snapshot] = []
        self.jobs: dict[str, Job] = {}
        self.stale: list[Job] = []
        self.keys: dict[tuple[str, str], Job] = {}
        self.submitted = 0
        self.cursors = dict.fromkeys(CONSUMERS, 0)
        self.read: dict[str, list[tuple[int, Snapshot]]] = {c: [] for c in CONSUMERS}

    def commit(self, job: Job) -> None:
        if job.job_id in self.jobs:
            self.stale.append(self.jobs[job.job_id])
        self.jobs[job.job_id] = job
        self.committed.append(Snapshot.of(job))

    def new(self, tenant: str) -> Job:
        job_id = f"00000000-0000-4000-8000-{self.submitted:012d}"
        self.submitted += 1
        return new_job(job_id, "en", "fr", {}, 2, T0, tenant=tenant)

    def with_status(self, *statuses: JobStatus) -> list[str]:
        return [i for i, j in self.jobs.items() if j.status in statuses]

    def change(self, job_id: str, event: Event) -> None:
        job = self.jobs[job_id]
        new = transition(job, event, T0)
        self.run(self.store.update(new, job.version))
        self.commit(new)

    @rule(tenant=st.sampled_from(TENANTS), idem=CLAIMS)
    def submit(self, tenant: str, idem: IdempotencyClaim | None) -> None:
        job = self.new(tenant)
        stored, created = self.run(self.store.create(job, idem))
        if idem is not None and (tenant, idem.key) in self.keys:
            assert not created  # a replayed create logs nothing
            return
        assert created
        if idem is not None:
            self.keys[(tenant, idem.key)] = stored
        self.commit(stored)

    @rule(tenants=st.lists(st.sampled_from(TENANTS), min_size=2, max_size=6))
    def submit_together(self, tenants: list[str]) -> None:
        """Creates queued at once share a group commit; logged in the order queued."""
        jobs = [self.new(tenant) for tenant in tenants]

        async def all_at_once() -> None:
            await asyncio.gather(*(self.store.create(job, None) for job in jobs))

        self.run(all_at_once())
        for job in jobs:
            self.commit(job)

    @rule(limit=st.integers(1, 3))
    def claim(self, limit: int) -> None:
        event = Claim("w", T0 + timedelta(seconds=30))
        claimed = self.run(
            self.store.claim(T0, limit, lambda job: transition(job, event, T0))
        )
        for job, _ in claimed:
            self.commit(job)

    @precondition(lambda self: bool(self.with_status(JobStatus.PROCESSING)))
    @rule(data=st.data(), progress=st.booleans())
    def work(self, data: st.DataObject, progress: bool) -> None:
        job_id = data.draw(st.sampled_from(self.with_status(JobStatus.PROCESSING)))
        event: Event = Progress(50, None) if progress else Succeed({})
        self.change(job_id, event)

    @precondition(
        lambda self: bool(self.with_status(JobStatus.PENDING, JobStatus.PROCESSING))
    )
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        ids = self.with_status(JobStatus.PENDING, JobStatus.PROCESSING)
        self.change(data.draw(st.sampled_from(ids)), Cancel())

    @precondition(lambda self: bool(self.stale))
    @rule(data=st.data())
    def write_stale(self, data: st.DataObject) -> None:
        """A lost compare-and-set logs nothing."""
        stale = data.draw(st.sampled_from(self.stale))
        with pytest.raises(VersionConflictError):
            self.run(self.store.update(transition(stale, Cancel(), T0), stale.version))

    @rule(consumer=st.sampled_from(list(CONSUMERS)), limit=st.integers(1, 4))
    def read_page(self, consumer: str, limit: int) -> None:
        """A consumer resumes after the last seq it read (a reconnect, or the next
        page): no state but that seq."""
        tenant, job_ids = CONSUMERS[consumer]
        page = self.run(
            self.store.events_after(tenant, self.cursors[consumer], job_ids, limit)
        )
        assert len(page) <= limit
        if page:
            self.cursors[consumer] = page[-1][0]
        self.read[consumer] += page

    @invariant()
    def each_consumer_read_a_prefix_of_its_stream(self) -> None:
        for consumer, read in self.read.items():
            seqs = [seq for seq, _ in read]
            assert all(a < b for a, b in itertools.pairwise(seqs))
            stream = [s for s in self.committed if wanted(s, consumer)]
            assert [s for _, s in read] == stream[: len(read)]

    @invariant()
    def the_log_is_the_committed_sequence(self) -> None:
        log = self.run(self.store.events_after(None, 0, None, 10_000))
        assert [s for _, s in log] == self.committed

    def teardown(self) -> None:
        try:
            for consumer, (tenant, job_ids) in CONSUMERS.items():
                rest = self.run(
                    self.store.events_after(
                        tenant, self.cursors[consumer], job_ids, 10_000
                    )
                )
                read = [s for _, s in self.read[consumer] + rest]
                assert read == [s for s in self.committed if wanted(s, consumer)]
        finally:
            super().teardown()


def test_resumed_reads_concatenate_to_the_committed_sequence() -> None:
    run_machine(EventLog, 60)


@pytest.mark.services
def test_resumed_reads_concatenate_to_the_committed_sequence_on_postgres(
    postgres_server: PostgresServer,
) -> None:
    run_machine(EventLog, 25, postgres_server)
