"""The dispatcher: tails the job event log from its durable cursor and turns each
event into deliveries, in the transaction that moves the cursor (the outbox).

A crash before that commit leaves the cursor where it was: the events are read
again, and nothing is lost or made twice. It wakes on every change this process
learns of (JobService.subscribe) and on a slow safety timer; it never polls in a
loop. On Postgres one replica at a time holds the cursor; another that finds it
held tries again shortly (the holder may have read before the newest commit),
backing off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol

from vts.errors import UnavailableError
from vts.metrics import Metrics
from vts.snapshot import Snapshot
from vts.supervision import supervise
from vts.webhooks.messages import plan_deliveries
from vts.webhooks.model import Delivery, Endpoint, Reservation
from vts.webhooks.port import WebhookStore

log = logging.getLogger(__name__)

BATCH = 500
SAFETY_SECONDS = 5.0
HELD_RETRY_SECONDS = 0.05
ENDPOINTS_SECONDS = 1.0


def _now() -> datetime:
    return datetime.now(UTC)


class Senders(Protocol):
    """This process's sender, as the dispatcher hands it work."""

    def reserve(self) -> Reservation:
        """Set its free slots aside for deliveries about to be made."""

    def adopt(
        self, reservation: Reservation, claimed: list[tuple[Delivery, Endpoint]]
    ) -> None:
        """Send these (made claimed within `reservation`) now; free the rest."""

    def wake(self) -> None:
        """Deliveries were made that no one has claimed yet."""


class Dispatcher:
    """Moves the dispatch cursor to the end of the log. The deliveries it makes
    within the free slots of this process's sender are claimed as they are
    inserted and handed straight to it; the others wait for a claim."""

    def __init__(
        self,
        store: WebhookStore,
        metrics: Metrics,
        senders: Senders,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.senders = senders
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._endpoints_exist = False
        self._endpoints_checked = -ENDPOINTS_SECONDS

    def wake(self, _snapshot: Snapshot | None = None) -> None:
        """A job changed: a JobService listener."""
        self._wake.set()

    def endpoints_changed(self) -> None:
        """An endpoint was made here: look again at once (not after the cache)."""
        self._endpoints_checked = -ENDPOINTS_SECONDS
        self._wake.set()

    async def start(self) -> None:
        self._wake.set()  # what was logged while no process dispatched
        self._task = supervise(
            "vts-webhook-dispatcher", self._run, on_crash=self.metrics.count_crash
        )

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def dispatch(self) -> int | None:
        """Dispatch everything logged so far; deliveries made (None: another
        process holds the cursor).

        While no endpoint exists anywhere (checked at most every ENDPOINTS_SECONDS)
        it does nothing: job changes cost no write, and the first endpoint moves the
        cursor past what it skipped (WebhookStore.create_endpoint)."""
        if time.monotonic() >= self._endpoints_checked + ENDPOINTS_SECONDS:
            self._endpoints_exist = await self.store.endpoints_exist()
            self._endpoints_checked = time.monotonic()
        if not self._endpoints_exist:
            return 0
        made = 0
        while True:
            result = await self._step()
            if result is None:
                return None
            events, deliveries = result
            made += deliveries
            if events < BATCH:
                return made

    async def _step(self) -> tuple[int, int] | None:
        """One batch of the log: (events read, deliveries made), None if held."""
        reservation = self.senders.reserve()
        endpoints: dict[str, Endpoint] = {}

        def plan(
            events: Sequence[tuple[int, Snapshot]], found: Sequence[Endpoint]
        ) -> list[Delivery]:
            # In the store's transaction (SQLite: on its writer thread): pure.
            endpoints.update((e.id, e) for e in found)
            return reservation.claim(plan_deliveries(events, found, self.clock()))

        claimed: list[tuple[Delivery, Endpoint]] = []
        try:
            result = await self.store.dispatch_events(BATCH, plan)
            if result is None:
                return None
            events, made = result
            self.metrics.webhook_events_dispatched.inc(events)
            claimed = [(d, endpoints[d.endpoint_id]) for d in made if d.claimed_until]
        finally:
            self.senders.adopt(reservation, claimed)
        if len(made) > len(claimed):
            self.senders.wake()
        return events, len(made)

    async def _run(self) -> None:
        wait = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait or SAFETY_SECONDS)
            self._wake.clear()
            try:
                held = await self.dispatch() is None
            except UnavailableError as exc:
                log.warning("webhook dispatcher cannot reach the store: %s", exc)
                held = False
            # Held: back off from HELD_RETRY_SECONDS (the holder may have read
            # before our newest commit) up to the safety timer.
            wait = min(wait * 2 or HELD_RETRY_SECONDS, SAFETY_SECONDS) if held else 0.0
