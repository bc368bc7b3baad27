"""Where jobs change: transition, compare-and-set write, announce (reads: vts.reads)."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from vts.domain import (
    DEFAULT_TENANT,
    Cancel,
    Claim,
    Event,
    ExpireLease,
    Job,
    JobStatus,
    Replay,
    new_job,
    transition,
)
from vts.errors import JobNotFoundError, VersionConflictError
from vts.events.announcer import Announcer
from vts.idempotency import IdempotencyClaim
from vts.metrics import Metrics
from vts.ports import Broker, JobStore
from vts.quotas import Quotas
from vts.reads import JobReads
from vts.snapshot import Snapshot

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CHANGE_RETRIES = 8


def utcnow() -> datetime:
    """Now, in UTC, to the millisecond: the precision every wire format keeps."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@attrs.frozen
class JobRequest:
    """A validated request to translate one video."""

    source_language: str
    target_language: str
    metadata: Mapping[str, Any]


class JobService(JobReads):
    """Creates, reads and changes jobs; the API and the worker pool both go through it,
    and watch and subscribe through it: the only gate to the store and the hub."""

    def __init__(
        self,
        store: JobStore,
        broker: Broker,
        announcer: Announcer,
        metrics: Metrics,
        *,
        max_attempts: int,
        max_lease_losses: int,
        clock: Clock = utcnow,
        jitter: Callable[[], float] = random.random,
        quotas: Quotas | None = None,
    ) -> None:
        self.store = store
        self.broker = broker
        self.announcer = announcer
        self.hub = announcer.hub
        self.metrics = metrics
        self.max_attempts = max_attempts
        self.max_lease_losses = max_lease_losses
        self.clock = clock
        self.jitter = jitter
        self.quotas = quotas
        self.hub.on_gap(self.resync_watched)
        self._counts: dict[str | None, tuple[Mapping[JobStatus, int], float]] = {}
        self._counts_lock = asyncio.Lock()

    async def resync_watched(self) -> None:
        """Re-read every watched job from the store and deliver what is newer."""
        for job_id in self.hub.watched_job_ids():
            try:
                job = await self.store.get(job_id, tenant=None)
            except JobNotFoundError:
                continue
            self.hub.deliver(Snapshot.of(job))

    # --- changes -------------------------------------------------------------------

    async def submit(
        self,
        request: JobRequest,
        idempotency: IdempotencyClaim | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> tuple[Job, bool]:
        """Store a new pending job of `tenant` durably; (job, created). Replays (the
        tenant's Idempotency-Key again) return the first job."""
        job = new_job(
            str(uuid.uuid4()),
            request.source_language,
            request.target_language,
            request.metadata,
            self.max_attempts,
            self.clock(),
            tenant,
        )
        # Encoded once, before the write: the event log and every watcher get it.
        snapshot = Snapshot.of(job)
        if self.quotas is None:
            stored, created = await self.store.create(job, idempotency, snapshot)
        else:  # QuotaExceededError when the tenant's max_active_jobs are in use
            stored, created = await self.quotas.create(
                self.store, job, idempotency, snapshot
            )
        if created:
            self.metrics.jobs_created.inc()
            self.metrics.tenant_jobs_created.labels(tenant).inc()
            self.announcer.announce(stored, None, snapshot)
        return stored, created

    async def advance(self, job: Job, event: Event) -> Job:
        """Apply `event` to `job` as read; VersionConflictError if it changed since."""
        return (await self._advance(job, event))[0]

    async def _advance(self, job: Job, event: Event) -> tuple[Job, Snapshot]:
        now = self.clock()
        new = transition(job, event, now)
        snapshot = Snapshot.of(new)
        await self.store.update(new, job.version, snapshot)
        self._finished(new)
        self.announcer.announce(new, job.status, snapshot)
        return new, snapshot

    async def change(
        self,
        job_id: str,
        event: Event,
        *,
        tenant: str | None,
        read: Job | None = None,
    ) -> Snapshot:
        """Apply `event` to `tenant`'s job's current state (None: any tenant's),
        re-reading after lost races; `read` is the job as just read, if it was.

        Raises JobNotFoundError (also for another tenant's job), or
        InvalidTransitionError when the state forbids it.
        """
        for _ in range(CHANGE_RETRIES):
            job = read or await self.store.get(job_id, tenant=tenant)
            read = None
            try:
                return (await self._advance(job, event))[1]
            except VersionConflictError:
                continue
        raise VersionConflictError(f"job {job_id} kept changing; try again")

    async def cancel(self, job_id: str, *, tenant: str | None) -> Snapshot:
        return await self.change(job_id, Cancel(), tenant=tenant)

    async def replay(self, job_id: str, *, tenant: str | None) -> Snapshot:
        """Start a failed job over; it becomes active again, so it counts against
        its tenant's max_active_jobs like a new job (QuotaExceededError when full).
        A job that cannot be replayed is refused for that first (409, not 429)."""
        if self.quotas is None:
            return await self.change(job_id, Replay(), tenant=tenant)
        job = await self.store.get(job_id, tenant=tenant)
        transition(job, Replay(), self.clock())  # InvalidTransitionError first
        counted = await self.quotas.admit_job(job.tenant, None)
        try:
            return await self.change(job_id, Replay(), tenant=tenant, read=job)
        except BaseException:
            if counted:
                self.quotas.release_job(job.tenant)
            raise

    async def claim(self, owner: str, limit: int, lease_seconds: float) -> list[Job]:
        """Take up to `limit` due jobs for `owner` under a lease."""
        now = self.clock()
        event = Claim(owner, now + timedelta(seconds=lease_seconds))
        claimed = await self.store.claim(
            now, limit, lambda job: transition(job, event, now)
        )
        for job, snapshot in claimed:
            self.announcer.announce(job, JobStatus.PENDING, snapshot)
        return [job for job, _ in claimed]

    async def renew(
        self, owner: str, job_ids: list[str], lease_seconds: float
    ) -> set[str]:
        expires = self.clock() + timedelta(seconds=lease_seconds)
        return await self.store.renew_leases(owner, job_ids, expires)

    async def reclaim_expired(self, limit: int = 500) -> list[Job]:
        """Make jobs whose worker vanished claimable again, using none of their
        attempts; dead-letter those that lost `max_lease_losses` leases."""
        event = ExpireLease(self.max_lease_losses)
        reclaimed = []
        for job in await self.store.expired(self.clock(), limit):
            try:
                new = await self.advance(job, event)
            except VersionConflictError:
                continue  # its worker renewed or finished it meanwhile
            reclaimed.append(new)
            if new.status is JobStatus.FAILED:
                self.metrics.leases_lost.labels("dead_lettered").inc()
                log.warning(
                    "job %s dead-lettered: its lease was lost %d times",
                    new.job_id,
                    new.lease_losses,
                )
            else:
                self.metrics.leases_lost.labels("reclaimed").inc()
        if reclaimed:
            log.warning("reclaimed %d jobs whose lease expired", len(reclaimed))
        return reclaimed

    async def purge_finished(self, older_than: timedelta, limit: int = 500) -> int:
        """Delete final jobs that finished more than `older_than` ago (retention):
        from the store, then from memory, the cache and the DLQ. Returns how many;
        call again while it returns `limit`."""
        purged = await self.store.purge_finished(self.clock() - older_than, limit)
        for job_id, status in purged:
            self.announcer.purged(job_id, status)
        if purged:
            self.metrics.jobs_purged.inc(len(purged))
        return len(purged)

    async def resync_dead_letters(self, limit: int = 10_000) -> int:
        """Copy every failed job from the store into the shared broker's DLQ (it may
        lag); a broker private to this process has none."""
        if not self.announcer.shared:
            return 0
        jobs = await self.store.dead_letters(limit, tenant=None)
        for job in jobs:
            completed = job.completed_at or job.updated_at
            await self.broker.dlq_add(
                job.job_id, Snapshot.of(job).body, completed.timestamp()
            )
        return len(jobs)

    def _finished(self, job: Job) -> None:
        if job.status.is_final:
            self.metrics.jobs_finished.labels(job.status.value).inc()
            self.metrics.tenant_jobs_finished.labels(job.tenant, job.status.value).inc()
            end = job.completed_at or job.updated_at
            self.metrics.job_duration.observe((end - job.created_at).total_seconds())
