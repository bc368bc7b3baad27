"""After a durable write: hand the event to local watchers, then to the cache, DLQ and relay."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vts.codec import epoch
from vts.domain import Job, JobStatus
from vts.errors import BrokerUnavailableError
from vts.events.hub import EventHub
from vts.events.relay import Relay, backoff
from vts.metrics import Metrics
from vts.ports import Broker
from vts.snapshot import Snapshot
from vts.supervision import supervise

log = logging.getLogger(__name__)

STOP_FLUSH_SECONDS = 3.0
"""How long `stop` lets the flush loop write what is queued before cutting it off."""


class Announcer:
    """Local fan-out at once; broker writes batched into one flush per loop turn.

    The cache, the dead-letter queue and the relay are derived state: a broker failure
    is logged and counted, never raised to the caller. They exist for other replicas:
    a broker private to this process (`fakeredis://`, `relays_events` False) is not
    written at all, since the hub's memory and the store answer every read here.
    """

    def __init__(
        self, hub: EventHub, broker: Broker, metrics: Metrics, origin: str
    ) -> None:
        self.hub = hub
        self.broker = broker
        self.metrics = metrics
        self.origin = origin.encode()
        self.shared = broker.relays_events
        # The newest snapshot of each job waiting for the next cache write.
        self._cache: dict[str, Snapshot] = {}
        self._relay: list[bytes] = []
        self._dlq: dict[str, tuple[bytes, float] | None] = {}
        self._uncache: set[str] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._published_local = metrics.events_published.labels("local")
        self._relay_in = (
            Relay(hub, broker, metrics, self.origin) if self.shared else None
        )

    def announce(
        self, job: Job, previous: JobStatus | None, snapshot: Snapshot
    ) -> None:
        """Publish a change that is already durable: `job` as stored, `snapshot` its
        encoding (the one the event log holds)."""
        self.hub.deliver(snapshot)
        self._published_local.inc()
        if not self.shared:
            return
        self._cache[job.job_id] = snapshot
        self._relay.append(snapshot.framed())
        if job.status is JobStatus.FAILED:
            self._dlq[job.job_id] = (snapshot.body, epoch(job.completed_at) or 0.0)
        elif previous is JobStatus.FAILED:
            self._dlq[job.job_id] = None
        self._wake.set()

    def purged(self, job_id: str, status: JobStatus) -> None:
        """Forget a job the store deleted: here at once, in the cache and (for a
        failed job) the dead-letter queue with the next flush."""
        self.hub.forget(job_id)
        if not self.shared:
            return
        self._cache.pop(job_id, None)
        self._uncache.add(job_id)
        if status is JobStatus.FAILED:
            self._dlq[job_id] = None
        self._wake.set()

    def unflushed(self, job_id: str) -> Snapshot | None:
        """The snapshot of `job_id` waiting for the next cache write, if any: newer
        than what the cache holds, so reads must prefer it."""
        return self._cache.get(job_id)

    async def start(self) -> None:
        if not self.shared:
            return  # nothing is ever queued for a broker private to this process
        crashed = self.metrics.count_crash
        self._stopping = False
        self._flusher = supervise(
            "vts-broker-flush", self._flush_forever, on_crash=crashed
        )
        self._tasks.append(self._flusher)
        if self._relay_in is not None:
            self._tasks.append(
                supervise("vts-relay", self._relay_in.run_forever, on_crash=crashed)
            )

    async def stop(self, timeout: float = STOP_FLUSH_SECONDS) -> None:
        """Write what is queued (the finals of a drain among it), then stop.

        A flush in flight has taken its batch out of the queue: cancelling it would
        drop that batch's relay, cache and dead-letter writes, and other replicas
        would keep serving the old state. So the flush loop is let finish, within
        `timeout` seconds (a broker that hangs cannot hold the shutdown).
        """
        self._stopping = True
        self._wake.set()
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            await asyncio.wait([flusher], timeout=timeout)
        for task in self._tasks:
            # Python 3.11's asyncio.wait_for (inside redis-py and fakeredis) swallows a
            # cancellation that lands as its inner call completes, and the task would
            # run on: cancel until it has really stopped.
            while not task.done():
                task.cancel()
                await asyncio.wait([task], timeout=0.1)
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.flush()

    async def flush(self) -> bool:
        """Write everything announced so far to the broker; False if some of it failed.

        Cache and dead-letter writes that fail are kept (newer entries win) and retried
        by the next flush, so the cache never keeps a stale version once the broker is
        back. Relay messages are not kept: watchers resync from a snapshot on reconnect.
        """
        cache, self._cache = self._cache, {}
        uncache, self._uncache = self._uncache, set()
        relay, self._relay = self._relay, []
        dlq, self._dlq = self._dlq, {}
        ok = True
        if cache:
            items = [(s.job_id, s.version, s.framed()) for s in cache.values()]
            if not await self._guard("cache_set", self.broker.cache_set_many, items):
                ok = False
                for job_id, entry in cache.items():
                    self._cache.setdefault(job_id, entry)
        # After the sets: a purged job's last snapshot may be in the batch above.
        if uncache and not await self._guard(
            "cache_delete", self.broker.cache_delete_many, sorted(uncache)
        ):
            ok = False
            self._uncache |= uncache
        if relay:
            payload = b"\n".join([self.origin, *relay])
            await self._guard("publish", self.broker.publish, payload)
        for job_id, dead in dlq.items():
            if dead is None:
                done = await self._guard("dlq_remove", self.broker.dlq_remove, job_id)
            else:
                done = await self._guard("dlq_add", self.broker.dlq_add, job_id, *dead)
            if not done:
                ok = False
                self._dlq.setdefault(job_id, dead)
        return ok

    async def _guard(
        self, operation: str, call: Callable[..., Awaitable[None]], *args: Any
    ) -> bool:
        try:
            await call(*args)
            return True
        except BrokerUnavailableError as exc:
            self.metrics.broker_errors.labels(operation).inc()
            log.warning("broker %s failed, will retry: %s", operation, exc)
            return False

    async def _flush_forever(self) -> None:
        failures = 0
        while True:
            await self._wake.wait()
            self._wake.clear()
            if await self.flush():
                failures = 0
                if self._stopping and not self._wake.is_set():
                    return  # everything announced is written
                continue
            self._wake.set()  # keep what failed for the next try
            await asyncio.sleep(backoff(failures))
            failures += 1
