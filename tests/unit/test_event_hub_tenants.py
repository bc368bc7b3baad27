"""EventHub: a watcher only ever gets its own tenant's jobs (admins: every tenant's); gaps in
the relayed events are announced to the hub's gap subscribers."""

from __future__ import annotations

import orjson
from _support import make_job

from vts.events.hub import EventHub
from vts.snapshot import Snapshot


class Sink:
    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        self.got: list[str] = []

    def push(self, snapshot: Snapshot, message: bytes) -> None:
        self.got.append(orjson.loads(message)["job_id"])


A = "00000000-0000-4000-8000-00000000000a"
B = "00000000-0000-4000-8000-00000000000b"


def deliver(hub: EventHub, job_id: str, tenant: str, version: int = 1) -> None:
    job = make_job(job_id, tenant=tenant, version=version)
    hub.deliver(Snapshot.of(job))


def test_watchers_of_all_jobs_see_only_their_tenant() -> None:
    hub = EventHub()
    acme, globex, admin = Sink("acme"), Sink("globex"), Sink(None)
    for sink in (acme, globex, admin):
        hub.watch_all(sink)
    deliver(hub, A, "acme")
    deliver(hub, B, "globex")
    assert (acme.got, globex.got, sorted(admin.got)) == ([A], [B], [A, B])
    assert hub.watcher_count == 3
    hub.unwatch_all(globex)
    deliver(hub, B, "globex", version=2)
    assert globex.got == [B] and hub.watcher_count == 2


def test_a_watcher_of_another_tenants_job_gets_nothing() -> None:
    hub = EventHub()
    nosy = Sink("globex")
    hub.watch(A, nosy)  # subscribed before its tenant was checked
    deliver(hub, A, "acme")
    assert nosy.got == []
    owner = Sink("acme")
    hub.watch(A, owner)
    deliver(hub, A, "acme", version=2)
    assert owner.got == [A] and nosy.got == []
    hot = hub.hot(A)
    assert hot is not None and hot.tenant == "acme"


def test_a_relayed_snapshot_without_tenant_is_the_default_tenants() -> None:
    old = orjson.loads(Snapshot.of(make_job(A)).body)
    del old["tenant"]  # sent by a replica from before tenants
    snapshot = Snapshot.unframe(orjson.dumps(old))
    assert (snapshot.job_id, snapshot.tenant) == (A, "default")


async def test_a_gap_forgets_what_the_hub_remembers_and_its_close_is_announced() -> (
    None
):
    hub = EventHub()
    caught_up: list[str] = []

    async def resync() -> None:
        caught_up.append("resynced")

    hub.on_gap(resync)
    deliver(hub, A, "acme")
    hub.open_gap()  # the relay went down: remembered snapshots may go stale
    assert hub.hot(A) is None and caught_up == []
    await hub.close_gap()  # the relay is live again
    assert caught_up == ["resynced"]
