"""The relay: other replicas' events, from the shared broker into this process's hub."""

from __future__ import annotations

import asyncio
import logging

from vts.errors import BrokerUnavailableError, StoreUnavailableError
from vts.events.hub import EventHub
from vts.metrics import Metrics
from vts.ports import Broker
from vts.snapshot import Snapshot

log = logging.getLogger(__name__)

RETRY_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0)


def backoff(failures: int) -> float:
    """Seconds to wait after `failures` failures in a row (0: the first)."""
    return RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)]


class Relay:
    """Holds one broker subscription and delivers other replicas' snapshots locally.

    While it is down this replica misses other replicas' events: the hub is told at
    once (it forgets what it remembers) and again once the subscription is live
    (its gap subscribers re-read every watched job), so no watcher keeps a stale
    state.
    """

    def __init__(
        self, hub: EventHub, broker: Broker, metrics: Metrics, origin: bytes
    ) -> None:
        self.hub = hub
        self.broker = broker
        self.metrics = metrics
        self.origin = origin
        self._published = metrics.events_published.labels("relay")

    async def run_forever(self) -> None:
        failures = 0
        lost = False
        while True:
            try:
                async for payload in self.broker.subscribe():
                    if not payload:  # the subscription is live
                        if lost:
                            await self.hub.close_gap()  # may raise StoreUnavailable
                        lost = False
                        failures = 0
                        continue
                    origin, _, body = payload.partition(b"\n")
                    if origin == self.origin or not body:
                        continue
                    for line in body.split(b"\n"):
                        self._deliver(line)
            except (BrokerUnavailableError, StoreUnavailableError) as exc:
                # Resubscribe either way; a failed resync is retried once live again.
                self.hub.open_gap()
                lost = True
                if isinstance(exc, BrokerUnavailableError):
                    self.metrics.broker_errors.labels("subscribe").inc()
                delay = backoff(failures)
                failures += 1
                log.warning("event relay lost (%s); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    def _deliver(self, line: bytes) -> None:
        try:
            snapshot = Snapshot.unframe(line)
        except ValueError:
            log.warning("ignored a relayed event that is not a snapshot")
            return
        if self.hub.deliver(snapshot):
            self._published.inc()
