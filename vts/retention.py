"""Retention: final jobs that outlived VTS_RETENTION are deleted, a batch at a time.

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
    """Deletes final jobs `retention` seconds after they finished."""

    def __init__(self, service: JobService, retention: float) -> None:
        self.service = service
        self.retention = timedelta(seconds=retention)
        # A tenth of the retention between sweeps: a job outlives it by at most 10 %.
        self.interval = min(
            MAX_INTERVAL_SECONDS, max(MIN_INTERVAL_SECONDS, retention / 10)
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
        while True:
            purged = await self.service.purge_finished(self.retention, BATCH)
            total += purged
            if purged < BATCH:
                return total
            await asyncio.sleep(0)

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                purged = await self.sweep()
            except UnavailableError as exc:
                log.warning("cannot delete expired jobs: %s", exc)
                continue
            if purged:
                log.info("deleted %d jobs older than the retention", purged)
