"""Retention: final jobs that outlived VTS_RETENTION, and logged job events that
outlived VTS_EVENT_RETENTION, are deleted, a batch at a time.

Every replica sweeps; in Postgres `SKIP LOCKED` keeps two sweepers off each other's
rows. A sweep deletes in batches until a batch comes back short, yielding to the
event loop between them, so a backlog (retention switched on for an old database)
never stalls requests.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from vts.errors import UnavailableError
from vts.service import JobService
from vts.supervision import supervise

log = logging.getLogger(__name__)

BATCH = 500
MAX_INTERVAL_SECONDS = 60.0
MIN_INTERVAL_SECONDS = 0.05


class RetentionSweeper:
    """Deletes final jobs `retention` seconds after they finished, and logged events
    `event_retention` seconds after they were written; 0 keeps them."""

    def __init__(
        self, service: JobService, retention: float, event_retention: float = 0.0
    ) -> None:
        self.service = service
        self.retention = timedelta(seconds=retention)
        self.event_retention = timedelta(seconds=event_retention)
        # A tenth of the shorter retention between sweeps: a job (an event) outlives
        # it by at most 10 %.
        shortest = min((r for r in (retention, event_retention) if r > 0), default=0)
        self.interval = min(
            MAX_INTERVAL_SECONDS, max(MIN_INTERVAL_SECONDS, shortest / 10)
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = supervise(
            "vts-retention",
            self._sweep_forever,
            on_crash=self.service.metrics.count_crash,
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def sweep(self) -> int:
        """Delete every job past retention now; how many were deleted."""
        total = 0
        while self.retention:
            purged = await self.service.purge_finished(self.retention, BATCH)
            total += purged
            if purged < BATCH:
                break
            await asyncio.sleep(0)
        return total

    async def sweep_events(self) -> int:
        """Delete every logged event past the event retention now; how many."""
        total = 0
        while self.event_retention:
            before = self.service.clock() - self.event_retention
            purged = await self.service.store.purge_events(before, BATCH)
            total += purged
            if purged < BATCH:
                break
            await asyncio.sleep(0)
        return total

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                purged = await self.sweep()
                events = await self.sweep_events()
            except UnavailableError as exc:
                log.warning("cannot delete expired jobs or events: %s", exc)
                continue
            if purged:
                log.info("deleted %d jobs older than the retention", purged)
            if events:
                log.debug("deleted %d events older than the event retention", events)
