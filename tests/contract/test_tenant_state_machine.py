"""Two tenants as a Hypothesis state machine: neither ever observes the other's job.

Random creates (with colliding Idempotency-Keys), gets, lists, cancels, failures,
replays, dead-letter lists and subscriptions go through the real service, hub and
store; every answer and every message a watcher receives is checked for the tenant.
On SQLite the broker is the in-process default (no cache: memory and the store
answer reads); on Postgres a real redis-server, whose cache and DLQ are shared.
"""

from __future__ import annotations

import contextlib
from typing import Any, TypeVar

import orjson
import pytest
from _postgres import PostgresServer
from _servers import RedisServer
from _store_machine import StoreMachine, run_machine
from hypothesis import strategies as st
from hypothesis.stateful import (
    invariant,
    precondition,
    rule,
)

from vts.brokers.redis import create_broker
from vts.config import Settings
from vts.domain import Fail, JobError, JobStatus
from vts.errors import InvalidTransitionError, JobNotFoundError
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.idempotency import IdempotencyClaim
from vts.metrics import Metrics
from vts.service import JobRequest, JobService
from vts.snapshot import Snapshot

T = TypeVar("T")
TENANTS = ("acme", "globex")
REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})


class RecordingSink:
    """A watcher of one tenant (None: an admin): keeps every message it is sent."""

    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.messages: list[dict[str, Any]] = []

    def push(self, snapshot: Snapshot, message: bytes) -> None:
        self.messages.append(orjson.loads(message))


class TwoTenants(StoreMachine):
    broker_url = "fakeredis://"

    def __init__(self) -> None:
        super().__init__()
        self.broker = create_broker(self.broker_url, Settings())
        # A tiny memory: reads also come from the unflushed and cached snapshots.
        hub = EventHub(hot_capacity=1)
        metrics = Metrics()
        self.announcer = Announcer(hub, self.broker, metrics, "origin")
        self.service = JobService(
            self.store,
            self.broker,
            self.announcer,
            metrics,
            max_attempts=3,
            max_lease_losses=5,
        )
        self.run(self.broker.open())
        self.owner: dict[str, str] = {}  # job id -> tenant
        self.keys: dict[tuple[str, str], str] = {}  # (tenant, key) -> job id
        self.all_sinks = {t: RecordingSink(t) for t in TENANTS}
        self.one_sinks = {t: RecordingSink(t) for t in TENANTS}
        self.admin = RecordingSink(None)
        for sink in (*self.all_sinks.values(), self.admin):
            hub.watch_all(sink)

    def teardown(self) -> None:
        try:
            self.run(self.broker.close())
        finally:
            super().teardown()

    @rule(
        tenant=st.sampled_from(TENANTS),
        key=st.none() | st.sampled_from(["k1", "k2"]),
    )
    def create(self, tenant: str, key: str | None) -> None:
        claim = None if key is None else IdempotencyClaim(key, "same-body")
        job, created = self.run(self.service.submit(REQUEST, claim, tenant=tenant))
        assert job.tenant == tenant
        if key is not None and (tenant, key) in self.keys:
            assert (job.job_id, created) == (self.keys[tenant, key], False)
            return
        assert created
        self.owner[job.job_id] = tenant
        if key is not None:
            self.keys[tenant, key] = job.job_id

    def _job(self, data: st.DataObject) -> str:
        return data.draw(st.sampled_from(sorted(self.owner)))

    @precondition(lambda self: bool(self.owner))
    @rule(tenant=st.sampled_from(TENANTS), data=st.data())
    def get(self, tenant: str, data: st.DataObject) -> None:
        job_id = self._job(data)
        try:
            snapshot = self.run(self.service.snapshot(job_id, tenant=tenant))
        except JobNotFoundError:
            assert self.owner[job_id] != tenant
            return
        assert self.owner[job_id] == tenant
        assert snapshot.tenant == orjson.loads(snapshot.body)["tenant"] == tenant

    @rule(tenant=st.sampled_from(TENANTS))
    def list_jobs(self, tenant: str) -> None:
        page = self.run(self.service.list_jobs(None, 1000, None, tenant=tenant))
        assert {j.job_id for j in page.jobs} == {
            i for i, t in self.owner.items() if t == tenant
        }

    @precondition(lambda self: bool(self.owner))
    @rule(tenant=st.sampled_from(TENANTS), data=st.data())
    def cancel(self, tenant: str, data: st.DataObject) -> None:
        job_id = self._job(data)
        try:
            snapshot = self.run(self.service.cancel(job_id, tenant=tenant))
        except JobNotFoundError:
            assert self.owner[job_id] != tenant
            return
        except InvalidTransitionError:
            assert self.owner[job_id] == tenant
            return
        assert (snapshot.tenant, snapshot.status) == (tenant, JobStatus.CANCELLED)

    @rule()
    def fail_one(self) -> None:
        """A worker takes the oldest due job (of any tenant) and it fails for good."""
        for job in self.run(self.service.claim("worker", 1, 30)):
            error = JobError("no-speech", "no speech", False)
            self.run(self.service.advance(job, Fail(error)))

    @precondition(lambda self: bool(self.owner))
    @rule(tenant=st.sampled_from(TENANTS), data=st.data())
    def replay(self, tenant: str, data: st.DataObject) -> None:
        job_id = self._job(data)
        try:
            snapshot = self.run(self.service.replay(job_id, tenant=tenant))
        except JobNotFoundError:
            assert self.owner[job_id] != tenant
            return
        except InvalidTransitionError:
            return
        assert snapshot.tenant == tenant

    @rule(tenant=st.sampled_from(TENANTS))
    def dead_letters(self, tenant: str) -> None:
        entries = self.run(self.service.dead_letters(1000, tenant=tenant))
        assert all(orjson.loads(e)["tenant"] == tenant for e in entries)

    @precondition(lambda self: bool(self.owner))
    @rule(tenant=st.sampled_from(TENANTS), data=st.data())
    def subscribe(self, tenant: str, data: st.DataObject) -> None:
        """As /ws/jobs does: watch first, then read the snapshot (which checks the
        tenant); the job may change in between."""
        job_id = self._job(data)
        sink = self.one_sinks[tenant]
        self.service.watch(job_id, sink)
        if data.draw(st.booleans(), label="changes meanwhile"):
            with contextlib.suppress(InvalidTransitionError):
                self.run(self.service.cancel(job_id, tenant=self.owner[job_id]))
        try:
            self.run(self.service.snapshot(job_id, tenant=tenant))
        except JobNotFoundError:
            self.service.unwatch(job_id, sink)
            assert self.owner[job_id] != tenant

    @rule()
    def flush(self) -> None:
        """The announcer's broker writes: snapshots move to the cache."""
        self.run(self.announcer.flush())

    @invariant()
    def no_watcher_sees_another_tenant(self) -> None:
        for sinks in (self.all_sinks, self.one_sinks):
            for tenant, sink in sinks.items():
                assert all(m["tenant"] == tenant for m in sink.messages)
                assert all(self.owner[m["job_id"]] == tenant for m in sink.messages)
        seen = {m["job_id"] for m in self.admin.messages}
        assert seen == set(self.owner)  # the admin sees every tenant


def test_two_tenants_never_see_each_other() -> None:
    run_machine(TwoTenants, 60)


@pytest.mark.services
def test_two_tenants_never_see_each_other_on_postgres_and_redis(
    postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    class SharedBroker(TwoTenants):
        broker_url = redis_server.url

        def __init__(self) -> None:
            redis_server.flushdb()  # each example starts with an empty cache
            super().__init__()

    run_machine(SharedBroker, 20, postgres_server)
