"""After a durable write: hand the event to local watchers, then to the cache, DLQ and relay."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Awaitable, Callable

from vts.codec import epoch, snapshot_bytes
from vts.domain import Job, JobStatus
from vts.errors import BrokerUnavailableError
from vts.events import EventHub
from vts.metrics import Metrics
from vts.ports import Broker

log = logging.getLogger(__name__)

RELAY_RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)


class Announcer:
    """Local fan-out at once; broker writes batched into one flush per loop turn.

    The cache, the dead-letter queue and the relay are derived state: a broker failure
    is logged and counted, never raised to the caller.
    """

    def __init__(
        self, hub: EventHub, broker: Broker, metrics: Metrics, origin: str
    ) -> None:
        self.hub = hub
        self.broker = broker
        self.metrics = metrics
        self.origin = origin.encode()
        self._cache: dict[str, bytes] = {}
        self._relay: list[bytes] = []
        self._dlq: dict[str, tuple[bytes, float] | None] = {}
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.relay_ready = asyncio.Event()

    def announce(self, job: Job, previous: JobStatus | None) -> bytes:
        """Publish a change that is already durable; returns its serialized snapshot."""
        snapshot = snapshot_bytes(job)
        self.hub.deliver(job.job_id, job.version, job.status, snapshot)
        self.metrics.events_published.labels("local").inc()
        self._cache[job.job_id] = snapshot
        if self.broker.relays_events:
            self._relay.append(snapshot)
        if job.status is JobStatus.FAILED:
            self._dlq[job.job_id] = (snapshot, epoch(job.completed_at) or 0.0)
        elif previous is JobStatus.FAILED:
            self._dlq[job.job_id] = None
        self._wake.set()
        return snapshot

    async def start(self) -> None:
        self._tasks.append(
            asyncio.create_task(self._flush_forever(), name="vts-broker-flush")
        )
        if self.broker.relays_events:
            self._tasks.append(
                asyncio.create_task(self._relay_forever(), name="vts-relay")
            )
        else:
            self.relay_ready.set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.flush()

    async def flush(self) -> None:
        """Write everything announced so far to the broker."""
        cache, self._cache = self._cache, {}
        relay, self._relay = self._relay, []
        dlq, self._dlq = self._dlq, {}
        if cache:
            items = list(cache.items())
            await self._guard(
                "cache_set", functools.partial(self.broker.cache_set_many, items)
            )
        if relay:
            payload = b"\n".join([self.origin, *relay])
            await self._guard(
                "publish", functools.partial(self.broker.publish, payload)
            )
        for job_id, entry in dlq.items():
            if entry is None:
                remove = functools.partial(self.broker.dlq_remove, job_id)
                await self._guard("dlq_remove", remove)
            else:
                add = functools.partial(self.broker.dlq_add, job_id, *entry)
                await self._guard("dlq_add", add)

    async def _guard(self, operation: str, call: Callable[[], Awaitable[None]]) -> None:
        try:
            await call()
        except BrokerUnavailableError as exc:
            self.metrics.broker_errors.labels(operation).inc()
            log.warning("broker %s failed, carrying on: %s", operation, exc)

    async def _flush_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            await self.flush()

    async def _relay_forever(self) -> None:
        """Hold one broker subscription; deliver other replicas' events locally."""
        failures = 0
        while True:
            try:
                subscription = self.broker.subscribe()
                self.relay_ready.set()
                async for payload in subscription:
                    failures = 0
                    origin, _, body = payload.partition(b"\n")
                    if origin == self.origin or not body:
                        continue
                    for snapshot in body.split(b"\n"):
                        if self.hub.deliver_snapshot(snapshot):
                            self.metrics.events_published.labels("relay").inc()
            except BrokerUnavailableError as exc:
                self.relay_ready.clear()
                self.metrics.broker_errors.labels("subscribe").inc()
                delay = RELAY_RETRY_SECONDS[min(failures, len(RELAY_RETRY_SECONDS) - 1)]
                failures += 1
                log.warning("event relay lost (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
