"""Progress reports of one running job, persisted coalesced."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable

from vts.domain import Progress


class ProgressWriter:
    """Progress reports, persisted coalesced: `report` returns at once; one write is in
    flight at a time, at most one per `interval` seconds (VTS_PROGRESS_INTERVAL), and
    carries the newest report when it starts. A report is still durable before it is
    announced; the processor just never waits for it, and the outcome supersedes a
    report not yet written. Each write is a group-commit op: a pipeline reporting
    every few milliseconds would otherwise fill the commits its own completion waits
    behind."""

    def __init__(
        self,
        advance: Callable[[str, Progress], Awaitable[None]],
        job_id: str,
        interval: float,
    ) -> None:
        self._advance = advance
        self._job_id = job_id
        self._interval = interval
        self._latest: Progress | None = None
        self._writer: asyncio.Task[None] | None = None
        self._waiting = False  # the writer is between writes, not in one
        self._next_write = 0.0

    async def report(self, progress: int, stage: str | None) -> None:
        writer = self._writer
        if writer is not None and writer.done():
            self._writer = None
            writer.result()  # raises what `advance` raises if the job changed under us
        self._latest = Progress(progress, stage)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())

    async def _write(self) -> None:
        while self._latest is not None:
            wait = self._next_write - time.monotonic()
            if wait > 0:
                self._waiting = True
                try:
                    await asyncio.sleep(wait)  # newer reports replace _latest
                finally:
                    self._waiting = False
            event, self._latest = self._latest, None
            if event is None:
                return
            self._next_write = time.monotonic() + self._interval
            await self._advance(self._job_id, event)

    async def settle(self) -> None:
        """Drop the reports not yet written and wait for the write in flight; raises
        what `advance` raises if the job changed meanwhile."""
        self._latest = None
        writer = self._writer
        if writer is None:
            return
        if self._waiting:  # nothing in flight: do not sit out the interval
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            return
        await writer

    def abandon(self) -> None:
        self._latest = None
        writer = self._writer
        if writer is None:
            return
        if not writer.done():
            writer.cancel()
        elif not writer.cancelled():
            writer.exception()  # retrieved: nobody else will look at it
