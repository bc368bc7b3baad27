"""Per-process fan-out: each job event goes to its watchers once, serialized once."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Protocol

import orjson

from vts.codec import job_message
from vts.domain import DEFAULT_TENANT, JobStatus

log = logging.getLogger(__name__)

HOT_SNAPSHOTS = 20_000


class Sink(Protocol):
    """Where a watcher's messages go (a WebSocket connection). Must not block.

    `tenant` is the tenant whose jobs it may see; None: every tenant (an admin).
    """

    tenant: str | None

    def push(self, job_id: str, version: int, message: bytes) -> None: ...


Listener = Callable[[str, JobStatus], None]


class EventHub:
    """Routes job events to the sinks watching that job and to the sinks watching all
    jobs of its tenant (or of every tenant). A sink never gets another tenant's job.

    It also remembers the newest snapshot of recently changed jobs, so a watcher's first
    snapshot and hot reads need no round trip. Events older than the newest one seen
    for a job are dropped, which makes duplicates and relayed echoes harmless.
    """

    def __init__(self, hot_capacity: int = HOT_SNAPSHOTS) -> None:
        self._by_job: dict[str, set[Sink]] = {}
        # Watchers of every job, by the tenant they may see (None: every tenant).
        self._all: dict[str | None, set[Sink]] = {}
        self._hot: OrderedDict[str, tuple[int, bytes, str]] = OrderedDict()
        self._hot_capacity = hot_capacity
        self._listeners: list[Listener] = []
        self.on_evict: Callable[[str, int, bytes, str], None] | None = None
        """Called with (job_id, version, snapshot, tenant) when a snapshot leaves the
        memory."""

    def deliver(
        self,
        job_id: str,
        version: int,
        status: JobStatus,
        snapshot: bytes,
        tenant: str,
    ) -> bool:
        """Fan one event of `tenant`'s job out; False if it was not newer than what
        this hub has seen."""
        hot = self._hot.get(job_id)
        if hot is not None and hot[0] >= version:
            return False
        self._hot[job_id] = (version, snapshot, tenant)
        self._hot.move_to_end(job_id)
        if len(self._hot) > self._hot_capacity:
            evicted_id, evicted_entry = self._hot.popitem(last=False)
            if self.on_evict is not None:
                self.on_evict(evicted_id, *evicted_entry)
        watchers = self._by_job.get(job_id)
        mine, admins = self._all.get(tenant), self._all.get(None)
        if watchers or mine or admins:
            message = job_message(snapshot)
            for sink in tuple(watchers or ()):
                # A watcher subscribes before its tenant is checked (so it misses
                # nothing): another tenant's events never reach it meanwhile.
                if sink.tenant is None or sink.tenant == tenant:
                    sink.push(job_id, version, message)
            for sink in (*(mine or ()), *(admins or ())):
                sink.push(job_id, version, message)
        for listener in self._listeners:
            try:
                listener(job_id, status)
            except Exception:
                log.exception("job event listener failed")
        return True

    def deliver_snapshot(self, snapshot: bytes) -> bool:
        """Deliver an event that arrived as bytes only (relayed from another replica)."""
        data = orjson.loads(snapshot)
        return self.deliver(
            data["job_id"],
            data["version"],
            JobStatus(data["status"]),
            snapshot,
            # A replica from before tenants (a rolling upgrade) sends none.
            data.get("tenant", DEFAULT_TENANT),
        )

    def hot(self, job_id: str) -> tuple[int, bytes, str] | None:
        """(version, snapshot, tenant) of the newest event seen for the job, if
        still remembered."""
        return self._hot.get(job_id)

    def forget(self, job_id: str) -> None:
        self._hot.pop(job_id, None)

    def clear_hot(self) -> None:
        """Forget every remembered snapshot (they may be stale after a relay outage)."""
        self._hot.clear()

    def watched_job_ids(self) -> list[str]:
        return list(self._by_job)

    def watch(self, job_id: str, sink: Sink) -> None:
        self._by_job.setdefault(job_id, set()).add(sink)

    def unwatch(self, job_id: str, sink: Sink) -> None:
        watchers = self._by_job.get(job_id)
        if watchers is not None:
            watchers.discard(sink)
            if not watchers:
                del self._by_job[job_id]

    def watch_all(self, sink: Sink) -> None:
        """Send `sink` every job of its tenant (every job: a sink of no tenant)."""
        self._all.setdefault(sink.tenant, set()).add(sink)

    def unwatch_all(self, sink: Sink) -> None:
        sinks = self._all.get(sink.tenant)
        if sinks is not None:
            sinks.discard(sink)
            if not sinks:
                del self._all[sink.tenant]

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(job_id, status)` after every delivered event (in-process)."""
        self._listeners.append(listener)

    @property
    def watcher_count(self) -> int:
        watching_one = sum(len(s) for s in self._by_job.values())
        return watching_one + sum(len(s) for s in self._all.values())
