"""Attempts recorded by group commit: every outcome that arrived while the last
write ran goes into the next one transaction (one fsync for many deliveries); and
counted in the metrics once recorded."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from vts.errors import UnavailableError
from vts.metrics import Metrics
from vts.webhooks.model import Attempt, Delivery, DeliveryStatus, Endpoint
from vts.webhooks.port import Apply, WebhookStore

log = logging.getLogger(__name__)

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


def count_outcome(
    metrics: Metrics,
    attempt: Attempt,
    delivery: Delivery,
    endpoint: Endpoint,
    now: datetime,
) -> None:
    """An attempt recorded at `now` as `delivery` and `endpoint`: its outcome in the
    metrics, and a log line if it disabled the endpoint or failed."""
    if delivery.status is DeliveryStatus.SUCCEEDED:
        outcome = "succeeded"
        latency = (now - delivery.changed_at).total_seconds()
        metrics.webhook_latency.observe(max(latency, 0.0))
    elif delivery.status is DeliveryStatus.PENDING:
        outcome = "retried"
    else:
        outcome = "failed"
    metrics.webhook_deliveries.labels(outcome).inc()
    if endpoint.disabled_at is not None and endpoint.disabled_at == now:
        log.warning(
            "webhook endpoint %s disabled: %s", endpoint.id, endpoint.disabled_reason
        )
    elif attempt.error is not None:
        log.info("webhook %s to %s: %s", delivery.id, endpoint.id, attempt.error)
