"""The worker pool: claims due jobs under a lease, runs them, drains on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from datetime import timedelta

import attrs

from vts.domain import Fail, Job, JobStatus, Progress, Release, Succeed
from vts.errors import (
    InvalidTransitionError,
    JobNotFoundError,
    UnavailableError,
    VersionConflictError,
)
from vts.ports import Processor
from vts.service import JobService
from vts.snapshot import Snapshot
from vts.supervision import supervise
from vts.worker.outcome import error_of, json_result
from vts.worker.progress import ProgressWriter

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 2.0
ERROR_PAUSE_SECONDS = 0.5
OUTCOME_RETRY_FIRST = 0.1
OUTCOME_RETRY_MAX = 2.0


class _Lost(Exception):
    """The job changed under its worker (cancelled, or its lease was reclaimed)."""


class WorkerPool:
    """`concurrency` jobs at a time in this process, all under one lease owner id."""

    def __init__(
        self,
        service: JobService,
        processor: Processor,
        *,
        owner: str,
        concurrency: int,
        lease_seconds: float,
        progress_interval: float,
    ) -> None:
        self.service = service
        self.processor = processor
        self.owner = owner
        self.concurrency = concurrency
        self.lease_seconds = lease_seconds
        self.progress_interval = progress_interval
        self._running: dict[str, asyncio.Task[None]] = {}
        self._current: dict[str, Job] = {}
        self._unfinished: list[Job] = []
        self._settling: set[str] = set()
        self._wake = asyncio.Event()
        self._accepting = False
        self._loops: list[asyncio.Task[None]] = []
        self._claiming: asyncio.Future[list[Job]] | None = None
        service.subscribe(self._on_event)

    # --- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._accepting = True
        crashed = self.service.metrics.count_crash
        self._loops = [
            supervise("vts-dispatch", self._dispatch_forever, on_crash=crashed),
            supervise("vts-lease-renew", self._renew_forever, on_crash=crashed),
            supervise("vts-lease-reaper", self._reap_forever, on_crash=crashed),
        ]

    async def drain(self, grace: float) -> None:
        """Stop claiming; let running jobs finish within `grace` s; release the rest."""
        self._accepting = False
        dispatcher = self._loops[0] if self._loops else None
        if dispatcher is not None:
            dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await dispatcher
        await self._release_claim_in_flight()
        running = list(self._running.values())
        if running:
            log.info("draining %d running jobs (grace %.1fs)", len(running), grace)
            await asyncio.wait(running, timeout=grace)
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        leftover, self._unfinished = self._unfinished, []
        for job in leftover:
            await self._release(job)
        if leftover:
            log.info("released %d unfinished jobs for another worker", len(leftover))
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []

    async def _release_claim_in_flight(self) -> None:
        """A claim cut short by the drain still commits: hand its jobs back, or they
        would sit in `processing` under our lease until it expires."""
        claiming, self._claiming = self._claiming, None
        if claiming is None:
            return
        try:
            jobs = await claiming
        except Exception:
            return  # nothing was claimed (or the dispatcher has logged why)
        for job in jobs:
            await self._release(job)
        if jobs:
            log.info("released %d jobs claimed as the drain began", len(jobs))

    async def _release(self, job: Job) -> None:
        """Hand `job` back; if a write of ours landed after we last saw it, re-read."""
        for _ in range(3):
            try:
                await self.service.advance(job, Release())
                return
            except VersionConflictError:
                try:
                    job = await self.service.get(job.job_id, tenant=None)
                except (JobNotFoundError, UnavailableError):
                    return
                if (
                    job.status is not JobStatus.PROCESSING
                    or job.lease_owner != self.owner
                ):
                    return
            except (InvalidTransitionError, UnavailableError):
                return  # its lease expires and it is reclaimed

    def _on_event(self, snapshot: Snapshot) -> None:
        status = snapshot.status
        if status is JobStatus.PENDING:
            self._wake.set()
        elif status is JobStatus.CANCELLED and snapshot.job_id in self._running:
            self._running[snapshot.job_id].cancel()

    # --- loops -----------------------------------------------------------------------

    async def _dispatch_forever(self) -> None:
        while self._accepting:
            free = self.concurrency - len(self._running)
            if free <= 0:
                # Clear first: a set event returns without yielding, and this loop
                # would spin and starve the event loop. _finished sets it again.
                self._wake.clear()
                await self._sleep(None)
                continue
            self._wake.clear()
            # Shielded: a drain cancels this loop, but a claim in flight commits
            # anyway; the drain takes its jobs from self._claiming and releases them.
            claiming = asyncio.ensure_future(
                self.service.claim(self.owner, free, self.lease_seconds)
            )
            self._claiming = claiming
            try:
                jobs = await asyncio.shield(claiming)
            except UnavailableError as exc:
                self._claiming = None
                log.warning("cannot claim jobs: %s", exc)
                await self._sleep(ERROR_PAUSE_SECONDS)
                continue
            self._claiming = None  # registered below, in this same step
            for job in jobs:
                self._current[job.job_id] = job
                task = asyncio.create_task(self._run(job), name=f"vts-job-{job.job_id}")
                self._running[job.job_id] = task
                task.add_done_callback(functools.partial(self._finished, job.job_id))
            if not jobs:
                await self._sleep(await self._idle_timeout())

    def _finished(self, job_id: str, _: object = None) -> None:
        self._running.pop(job_id, None)
        self._current.pop(job_id, None)
        self._wake.set()

    async def _idle_timeout(self) -> float:
        try:
            due = await self.service.next_due()
        except UnavailableError:
            return ERROR_PAUSE_SECONDS
        if due is None:
            return IDLE_POLL_SECONDS
        wait = (due - self.service.clock()).total_seconds()
        return min(IDLE_POLL_SECONDS, max(0.0, wait))

    async def _sleep(self, timeout: float | None) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            ids = list(self._running)
            if not ids:
                continue
            # No later than the expiry the store records (the service reads its clock after).
            expires = self.service.clock() + timedelta(seconds=self.lease_seconds)
            try:
                held = await self.service.renew(self.owner, ids, self.lease_seconds)
            except UnavailableError as exc:
                log.warning("cannot renew leases: %s", exc)
                continue
            # Progress writes store the whole in-memory job, lease expiry included:
            # keep it current, or each write would roll the renewed lease back.
            for job_id in held:
                job = self._current.get(job_id)
                if job is not None:
                    self._current[job_id] = attrs.evolve(job, lease_expires_at=expires)
            for job_id in set(ids) - held:
                task = self._running.get(job_id)
                # Not lost: finished, being cancelled by a user, or its outcome is
                # committed or on the way (the renewal raced with it).
                if task is None or task.done() or task.cancelling():
                    continue
                if job_id in self._settling:
                    continue
                log.warning("lost the lease on job %s; stopping it", job_id)
                task.cancel()

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(max(0.25, self.lease_seconds / 2))
            try:
                await self.service.reclaim_expired()
            except UnavailableError as exc:
                log.warning("cannot reclaim expired leases: %s", exc)

    # --- one job ---------------------------------------------------------------------

    async def _advance(self, job_id: str, event: Fail | Progress | Succeed) -> None:
        """Record `event`. Progress is skipped while the store is away; an outcome is
        retried until it lands or the lease would have run out (then the job is
        reclaimed and runs again: at-least-once)."""
        delay = OUTCOME_RETRY_FIRST
        deadline = time.monotonic() + self.lease_seconds
        while True:
            try:
                self._current[job_id] = await self.service.advance(
                    self._current[job_id], event
                )
                return
            except (
                VersionConflictError,
                InvalidTransitionError,
                JobNotFoundError,
            ) as exc:
                self._current.pop(job_id, None)
                raise _Lost(job_id) from exc
            except UnavailableError:
                if isinstance(event, Progress) or time.monotonic() + delay > deadline:
                    if isinstance(event, Progress):
                        return
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, OUTCOME_RETRY_MAX)

    async def _run(self, job: Job) -> None:
        job_id = job.job_id
        progress = ProgressWriter(self._advance, job_id, self.progress_interval)
        try:
            outcome: Succeed | Fail
            try:
                result = await self.processor.run(job, progress.report)
                outcome = Succeed(json_result(result))
            except (_Lost, asyncio.CancelledError):
                raise
            except Exception as exc:
                error = error_of(job_id, exc, self.service.metrics)
                outcome = Fail(error, self.service.jitter())
            await progress.settle()  # the outcome's version follows the last progress
            self._settling.add(job_id)
            try:
                await self._advance(job_id, outcome)
            finally:
                self._settling.discard(job_id)
        except _Lost:
            log.info(
                "job %s changed while running (cancelled or reclaimed); stopped", job_id
            )
        except UnavailableError as exc:
            # The lease will expire and another attempt will run it.
            log.warning("could not record the outcome of job %s: %s", job_id, exc)
        except Exception:
            # A bug, not an outage; the lease expires and another attempt runs it.
            log.exception("recording the outcome of job %s failed", job_id)
        except asyncio.CancelledError:
            progress.abandon()
            # Cancelled or lease lost: nothing to write. Drained: hand it back now.
            if not self._accepting and job_id in self._current:
                self._unfinished.append(self._current[job_id])
