"""The service's read side: snapshots, lists, counts and dead letters; watching."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from datetime import datetime

from vts.domain import Job, JobStatus
from vts.errors import BrokerUnavailableError, JobNotFoundError
from vts.events.announcer import Announcer
from vts.events.hub import EventHub, GapListener, Listener, Sink
from vts.metrics import Metrics
from vts.ports import Broker, JobStore, Page
from vts.snapshot import Snapshot

COUNTS_MAX_AGE = 2.0
MAX_COUNTED_TENANTS = 1024
"""Counts kept for this many tenants at most (then forgotten, and counted anew)."""
"""Seconds a job count by status serves /metrics before the store is counted again."""


class JobReads:
    """Reads and watches for JobService, which sets these attributes."""

    store: JobStore
    broker: Broker
    announcer: Announcer
    hub: EventHub
    metrics: Metrics
    _counts: dict[str | None, tuple[Mapping[JobStatus, int], float]]
    _counts_lock: asyncio.Lock

    # --- reads ---------------------------------------------------------------------

    async def snapshot(self, job_id: str, *, tenant: str | None) -> Snapshot:
        """The newest snapshot of `tenant`'s job (None: any tenant's): memory, then
        the cache shared by replicas (if any), then the store.

        Raises JobNotFoundError, also for another tenant's job.
        """
        memory = self.hub.hot(job_id) or self.announcer.unflushed(job_id)
        if memory is not None:
            if tenant is not None and memory.tenant != tenant:
                raise JobNotFoundError(job_id)
            self.metrics.cache_hits.inc()
            return memory
        shared = self.announcer.shared
        if shared:
            cached = await self._cached(job_id)
            # One of another tenant (or cached by an older vts) is settled by the store.
            if cached is not None and tenant in (None, cached.tenant):
                self.metrics.cache_hits.inc()
                return cached
        self.metrics.cache_misses.inc()
        snapshot = Snapshot.of(await self.store.get(job_id, tenant=tenant))
        if shared:
            try:
                entry = (job_id, snapshot.version, snapshot.framed())
                await self.broker.cache_set_many([entry])
            except BrokerUnavailableError:
                self.metrics.broker_errors.labels("cache_set").inc()
        return snapshot

    async def _cached(self, job_id: str) -> Snapshot | None:
        try:
            cached = await self.broker.cache_get(job_id)
        except BrokerUnavailableError:
            self.metrics.broker_errors.labels("cache_get").inc()
            return None
        if cached is None:
            return None
        try:
            return Snapshot.unframe(cached)
        except ValueError:
            return None  # not ours: read the store

    async def get(self, job_id: str, *, tenant: str | None) -> Job:
        return await self.store.get(job_id, tenant=tenant)

    async def list_jobs(
        self,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        *,
        tenant: str | None,
    ) -> Page:
        return await self.store.list_jobs(status, limit, cursor, tenant=tenant)

    async def job_counts(self, tenant: str | None = None) -> Mapping[JobStatus, int]:
        """Jobs of `tenant` (None: every tenant's) by status, for /metrics and GET
        /jobs/counts. Counting scans the store (a tenant's: its part of an index),
        so however many scrapers and dashboards ask, each tenant's runs at most once
        per COUNTS_MAX_AGE seconds and one at a time; the others get that count."""
        async with self._counts_lock:
            counted = self._counts.get(tenant)
            if counted is None or time.monotonic() - counted[1] >= COUNTS_MAX_AGE:
                if len(self._counts) >= MAX_COUNTED_TENANTS:
                    self._counts.clear()
                counts = await self.store.count_by_status(tenant)
                counted = self._counts[tenant] = (counts, time.monotonic())
            return counted[0]

    async def dead_letter_count(self) -> int:
        """How many jobs are dead-lettered: the shared broker's DLQ size, or the
        store's count of failed jobs when the broker is private to this process.

        Raises BrokerUnavailableError or StoreUnavailableError.
        """
        if self.announcer.shared:
            return await self.broker.dlq_size()
        return (await self.job_counts()).get(JobStatus.FAILED, 0)

    async def dead_letters(self, limit: int, *, tenant: str | None) -> list[bytes]:
        """Dead-letter entries of `tenant` (None: every tenant's).

        Every tenant's come from the broker shared by replicas (from the store when
        it is down, or when there is none); one tenant's from the store, through its
        own index: the broker's list is one for all tenants.
        """
        if tenant is None and self.announcer.shared:
            try:
                return await self.broker.dlq_list(limit)
            except BrokerUnavailableError:
                self.metrics.broker_errors.labels("dlq_list").inc()
        jobs = await self.store.dead_letters(limit, tenant=tenant)
        return [Snapshot.of(job).body for job in jobs]

    async def next_due(self) -> datetime | None:
        """When the earliest pending job becomes due (None: no pending job)."""
        return await self.store.next_due()

    # --- the event log -------------------------------------------------------------

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> list[tuple[int, Snapshot]]:
        """Up to `limit` logged versions of `tenant`'s jobs (None: every tenant's;
        only `job_ids` if given) with a seq above `after`, in commit order.

        Raises StoreUnavailableError.
        """
        return await self.store.events_after(tenant, after, job_ids, limit)

    async def oldest_event_seq(self) -> int | None:
        """The lowest seq still logged (None: the log is empty)."""
        return await self.store.oldest_event_seq()

    async def newest_event_seq(self) -> int:
        """The highest seq handed out so far (0: none), pruned or not."""
        return await self.store.newest_event_seq()

    # --- watching ------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> None:
        """Call `listener(snapshot)` after every change this process learns of."""
        self.hub.subscribe(listener)

    def watch(self, job_id: str, sink: Sink) -> None:
        """Push every later version of `job_id` that `sink`'s tenant may see."""
        self.hub.watch(job_id, sink)

    def unwatch(self, job_id: str, sink: Sink) -> None:
        self.hub.unwatch(job_id, sink)

    def watch_all(self, sink: Sink) -> None:
        """Push every change of `sink`'s tenant's jobs (every tenant's: None)."""
        self.hub.watch_all(sink)

    def unwatch_all(self, sink: Sink) -> None:
        self.hub.unwatch_all(sink)

    def on_gap(self, listener: GapListener) -> None:
        """Await `listener()` whenever this process may have missed events of other
        replicas and hears them again (the relay is back)."""
        self.hub.on_gap(listener)
