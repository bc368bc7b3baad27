"""The outbox as a Hypothesis state machine: job changes, new endpoints, dispatch
steps of any size and dispatches that crash mid-way interleave at random; the
deliveries made are exactly one per (logged change, endpoint of its tenant asking
for its type and existing when it changed): none lost, none twice."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson
import pytest
from _postgres import PostgresServer
from _store_machine import StoreMachine, run_machine
from _support import T0
from _webhooks import endpoint, hooks
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
from vts.snapshot import Snapshot
from vts.webhooks.messages import plan_deliveries
from vts.webhooks.model import Delivery, Endpoint, event_type

TENANTS = ("acme", "globex")
FILTERS = (
    ("*",),
    ("job.completed",),
    ("job.pending", "job.cancelled"),
    ("job.progress",),
)


class Crash(Exception):
    """The process died inside the dispatch transaction."""


class Outbox(StoreMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tick = 0
        self.jobs: dict[str, Job] = {}
        self.endpoints: list[Endpoint] = []
        self.logged: list[Snapshot] = []  # every committed version, in order

    def now(self) -> datetime:
        """A second later than anything before: a change and an endpoint never
        share a time, so which changes an endpoint is owed is never in doubt."""
        self.tick += 1
        return T0 + timedelta(seconds=self.tick)

    def commit(self, job: Job) -> None:
        self.jobs[job.job_id] = job
        self.logged.append(Snapshot.of(job))

    def change(self, job_id: str, event: Event) -> None:
        job = self.jobs[job_id]
        new = transition(job, event, self.now())
        self.run(self.store.update(new, job.version))
        self.commit(new)

    def with_status(self, *statuses: JobStatus) -> list[str]:
        return [i for i, j in self.jobs.items() if j.status in statuses]

    def plan(
        self, events: Sequence[tuple[int, Snapshot]], found: Sequence[Endpoint]
    ) -> list[Delivery]:
        return plan_deliveries(events, found, T0)

    @rule(tenant=st.sampled_from(TENANTS))
    def submit(self, tenant: str) -> None:
        job_id = f"00000000-0000-4000-8000-{len(self.jobs):012d}"
        job = new_job(job_id, "en", "fr", {}, 2, self.now(), tenant=tenant)
        self.run(self.store.create(job, None))
        self.commit(job)

    @rule()
    def claim(self) -> None:
        now = self.now()
        event = Claim("w", now + timedelta(seconds=30))
        claimed = self.run(
            self.store.claim(now, 1, lambda job: transition(job, event, now))
        )
        for job, _ in claimed:
            self.commit(job)

    @precondition(lambda self: bool(self.with_status(JobStatus.PROCESSING)))
    @rule(data=st.data(), progress=st.booleans())
    def work(self, data: st.DataObject, progress: bool) -> None:
        job_id = data.draw(st.sampled_from(self.with_status(JobStatus.PROCESSING)))
        self.change(job_id, Progress(40, "translating") if progress else Succeed({}))

    @precondition(lambda self: bool(self.with_status(JobStatus.PENDING)))
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        self.change(
            data.draw(st.sampled_from(self.with_status(JobStatus.PENDING))), Cancel()
        )

    @rule(tenant=st.sampled_from(TENANTS), events=st.sampled_from(FILTERS))
    def add_endpoint(self, tenant: str, events: tuple[str, ...]) -> None:
        made = endpoint(tenant, events=events, created_at=self.now())
        self.run(hooks(self.store).create_endpoint(made))
        self.endpoints.append(made)

    @rule(limit=st.integers(1, 4))
    def dispatch(self, limit: int) -> None:
        self.run(hooks(self.store).dispatch_events(limit, self.plan))

    @rule(limit=st.integers(1, 4))
    def dispatch_and_crash(self, limit: int) -> None:
        def crashing(
            events: Sequence[tuple[int, Snapshot]], found: Sequence[Endpoint]
        ) -> list[Delivery]:
            self.plan(events, found)
            raise Crash

        # No event or no endpoint to plan for: no transaction to crash in.
        with contextlib.suppress(Crash):
            self.run(hooks(self.store).dispatch_events(limit, crashing))

    def expected(self) -> set[tuple[str, str, str]]:
        """(endpoint, job id @ version, type) of every delivery owed so far."""
        owed = set()
        for snap in self.logged:
            data = orjson.loads(snap.body)
            kind = event_type(
                snap.version, snap.status, data["progress"], data["stage"]
            )
            changed = datetime.fromisoformat(data["updated_at"])
            for e in self.endpoints:
                if (
                    e.tenant == snap.tenant
                    and e.wants(kind)
                    and e.created_at <= changed
                ):
                    owed.add((e.id, f"{snap.job_id}@{snap.version}", kind))
        return owed

    def made(self) -> list[tuple[str, str, str]]:
        found = []
        for e in self.endpoints:
            for d in self.run(
                hooks(self.store).list_deliveries(e.id, None, None, 10_000)
            ):
                data = orjson.loads(d.payload)["data"]
                found.append((e.id, f"{data['job_id']}@{data['version']}", d.type))
        return found

    @invariant()
    def nothing_made_twice_or_unowed(self) -> None:
        made = self.made()
        assert len(made) == len(set(made))
        assert set(made) <= self.expected()

    def teardown(self) -> None:
        try:
            for _ in range(len(self.logged) + 1):  # the cursor moves: it ends
                result = self.run(hooks(self.store).dispatch_events(500, self.plan))
                assert result is not None
                if not result[0]:
                    break
            else:
                raise AssertionError("the dispatch cursor does not move")
            assert sorted(self.made()) == sorted(self.expected())
        finally:
            super().teardown()


def test_the_outbox_owes_each_delivery_once() -> None:
    run_machine(Outbox, 40)


@pytest.mark.services
def test_the_outbox_owes_each_delivery_once_on_postgres(
    postgres_server: PostgresServer,
) -> None:
    run_machine(Outbox, 15, postgres_server)
