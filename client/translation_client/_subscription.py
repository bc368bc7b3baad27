"""A watcher's queue of one job's versions: each once, in order, until a final one."""

from __future__ import annotations

import asyncio
from typing import Final

from translation_client._errors import TranslationClientError
from translation_client._models import FINAL_STATUSES, Job


class Fallback:
    """Queued to a subscription when the WebSocket cannot be used: poll instead."""


FALLBACK: Final = Fallback()

Item = Job | TranslationClientError | Fallback


class Subscription:
    """One watcher's view of one job: each version once, in order, until a final one."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.last_version = 0
        self.done = False
        self._queue: asyncio.Queue[Item] = asyncio.Queue()

    def offer(self, job: Job) -> None:
        """Queue `job` unless its version was already queued.

        A final snapshot is always taken (once): it is written durably before it is
        sent, while versions announced by a server that then crashed may be reused.
        """
        if self.done:
            return
        final = job["status"] in FINAL_STATUSES
        if job["version"] > self.last_version or final:
            self.last_version = max(self.last_version, job["version"])
            self.done = final
            self._queue.put_nowait(job)

    def end(self, item: TranslationClientError | Fallback) -> None:
        if not self.done:
            self.done = True
            self._queue.put_nowait(item)

    async def get(self) -> Item:
        return await self._queue.get()
