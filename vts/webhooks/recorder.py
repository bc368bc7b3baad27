"""Attempts recorded by group commit: every outcome that arrived while the last
write ran goes into the next one transaction (one fsync for many deliveries)."""

from __future__ import annotations

import asyncio

from vts.errors import UnavailableError
from vts.webhooks.model import Delivery, Endpoint
from vts.webhooks.port import Apply, WebhookStore

Recorded = tuple[Delivery, Endpoint] | None
_Waiting = tuple[str, Apply, "asyncio.Future[Recorded]"]


class AttemptRecorder:
    """`await record(delivery_id, apply)` returns what the store made of it; at
    most one write is in flight, carrying everything queued when it starts."""

    def __init__(self, store: WebhookStore) -> None:
        self.store = store
        self._queue: list[_Waiting] = []
        self._writer: asyncio.Task[None] | None = None

    async def record(self, delivery_id: str, apply: Apply) -> Recorded:
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._queue.append((delivery_id, apply, future))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write())
        return await future

    async def _write(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            try:
                await self._commit(batch)
            except UnavailableError as exc:
                _fail(batch, exc)
            except Exception:
                # One bad attempt must not keep the others unrecorded (they would
                # be sent again and again): each alone, so only its own fails.
                for waiting in batch:
                    try:
                        await self._commit([waiting])
                    except Exception as exc:
                        _fail([waiting], exc)

    async def _commit(self, batch: list[_Waiting]) -> None:
        results = await self.store.record_attempts([(d, a) for d, a, _ in batch])
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def stop(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.cancel()
            await asyncio.gather(writer, return_exceptions=True)


def _fail(batch: list[_Waiting], exc: Exception) -> None:
    for _, _, future in batch:
        if not future.done():
            future.set_exception(exc)
