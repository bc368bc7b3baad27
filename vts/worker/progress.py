"""Progress reports of one running job, persisted coalesced."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from vts.domain import Progress


class ProgressWriter:
    """Progress reports, persisted coalesced: `report` returns at once; one write is in
    flight at a time and carries the newest report when it starts. A report is still
    durable before it is announced; the processor just never waits for it."""

    def __init__(
        self, advance: Callable[[str, Progress], Awaitable[None]], job_id: str
    ) -> None:
        self._advance = advance
        self._job_id = job_id
        self._latest: Progress | None = None
        self._writer: asyncio.Task[None] | None = None

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
            event, self._latest = self._latest, None
            await self._advance(self._job_id, event)

    async def settle(self) -> None:
        """Wait for the write in flight; raises what `advance` raises if the job changed meanwhile."""
        self._latest = None
        writer = self._writer
        if writer is not None:
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
