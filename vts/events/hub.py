"""The hub: each job event goes to this process's watchers and subscribers once."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Protocol

from vts.snapshot import Snapshot

log = logging.getLogger(__name__)

HOT_SNAPSHOTS = 20_000


class Sink(Protocol):
    """Where a watcher's messages go (a WebSocket connection). Must not block.

    `tenant` is the tenant whose jobs it may see; None: every tenant (an admin).
    `message` is the snapshot's WebSocket frame, made once for every sink.
    """

    tenant: str | None

    def push(self, snapshot: Snapshot, message: bytes) -> None: ...


Listener = Callable[[Snapshot], None]
GapListener = Callable[[], Awaitable[None]]


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
        self._hot: OrderedDict[str, Snapshot] = OrderedDict()
        self._hot_capacity = hot_capacity
        self._listeners: list[Listener] = []
        self._gap_listeners: list[GapListener] = []

    def deliver(self, snapshot: Snapshot) -> bool:
        """Fan one event out; False if it was not newer than what this hub has seen."""
        job_id, tenant = snapshot.job_id, snapshot.tenant
        hot = self._hot.get(job_id)
        if hot is not None and hot.version >= snapshot.version:
            return False
        self._hot[job_id] = snapshot
        self._hot.move_to_end(job_id)
        if len(self._hot) > self._hot_capacity:
            self._hot.popitem(last=False)
        watchers = self._by_job.get(job_id)
        mine, admins = self._all.get(tenant), self._all.get(None)
        if watchers or mine or admins:
            message = snapshot.message
            for sink in tuple(watchers or ()):
                # A watcher subscribes before its tenant is checked (so it misses
                # nothing): another tenant's events never reach it meanwhile.
                if sink.tenant is None or sink.tenant == tenant:
                    sink.push(snapshot, message)
            for sink in (*(mine or ()), *(admins or ())):
                sink.push(snapshot, message)
        for listener in self._listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("job event listener failed")
        return True

    def hot(self, job_id: str) -> Snapshot | None:
        """The newest snapshot seen for the job, if still remembered."""
        return self._hot.get(job_id)

    def forget(self, job_id: str) -> None:
        self._hot.pop(job_id, None)

    def open_gap(self) -> None:
        """Events may be missed from now on (the relay is down): forget every
        remembered snapshot, which may go stale."""
        self._hot.clear()

    async def close_gap(self) -> None:
        """Events arrive again: let every gap subscriber catch up on what it may
        have missed (the service re-reads the watched jobs). Raises what they raise."""
        for listener in self._gap_listeners:
            await listener()

    def on_gap(self, listener: GapListener) -> None:
        """Await `listener()` whenever events may have been missed and arrive again."""
        self._gap_listeners.append(listener)

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

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(snapshot)` after every delivered event (in-process)."""
        self._listeners.append(listener)

    @property
    def watcher_count(self) -> int:
        watching_one = sum(len(s) for s in self._by_job.values())
        return watching_one + sum(len(s) for s in self._all.values())
