"""The senders: claim due deliveries, POST them signed, record what came of it.

Finished deliveries are deleted VTS_EVENT_RETENTION after their last attempt.
Concurrency is bounded overall and per endpoint (vts.webhooks.slots): an endpoint
holds at most PER_ENDPOINT attempts in flight and AHEAD deliveries claimed ahead,
then is left out of the next claims, so a slow receiver never delays the others.
Claims carry a lease (the timeout plus a margin) so a crashed replica's come back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import aiohttp

from vts.errors import UnavailableError
from vts.metrics import Metrics
from vts.supervision import supervise
from vts.webhooks.due import NextDue
from vts.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Reservation,
    after_attempt,
)
from vts.webhooks.port import WebhookStore
from vts.webhooks.post import post
from vts.webhooks.recorder import AttemptRecorder, count_outcome
from vts.webhooks.schedule import next_delay, parse_retry_after
from vts.webhooks.slots import AHEAD, MAX_IN_FLIGHT, Slots
from vts.webhooks.ssrf import GuardedResolver

log = logging.getLogger(__name__)

LEASE_MARGIN_SECONDS = 5.0
"""A claim lasts the timeout plus this: time to record the attempt."""
START_MARGIN_SECONDS = LEASE_MARGIN_SECONDS / 2
"""A delivery claimed ahead starts only with this much of the margin left."""
PRUNE_SECONDS = 60.0
PRUNE_BATCH = 500
STOP_GRACE_SECONDS = 5.0
SAFETY_SECONDS = 5.0
"""Longest sleep with nothing due: picks up what another replica left behind."""


def _now() -> datetime:
    return datetime.now(UTC)


class Sender:
    """Delivers due messages from the outbox until stopped; `wake()` after adding
    some (the dispatcher, a manual retry)."""

    def __init__(
        self,
        store: WebhookStore,
        metrics: Metrics,
        *,
        timeout: float,
        schedule: tuple[float, ...],
        allow_private: bool,
        retention: float = 0.0,
        clock: Callable[[], datetime] = _now,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.timeout = timeout
        self.schedule = schedule
        self.allow_private = allow_private
        self.retention = timedelta(seconds=retention)
        self._next_prune = 0.0
        self.clock = clock
        self.jitter = jitter
        self._wake = asyncio.Event()
        self._recorder = AttemptRecorder(store)
        self._slots = Slots()
        self._starved = False  # the loop wanted a slot and found none
        # Endpoints the store may have more due for (a claim left some out, or
        # left the endpoint out): refilled once half of what waits has started.
        self._more: set[str] = set()
        self._next_due = NextDue()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """New work may be due: deliveries, a retry, an endpoint enabled."""
        self._next_due.forget()
        self._wake.set()

    async def start(self) -> None:
        resolver = None if self.allow_private else GuardedResolver()
        connector = aiohttp.TCPConnector(
            limit=MAX_IN_FLIGHT, resolver=resolver, ttl_dns_cache=10
        )
        self._session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, trust_env=False
        )
        self._loop = supervise(
            "vts-webhook-sender", self._run, on_crash=self.metrics.count_crash
        )

    async def stop(self) -> None:
        """Claim and start nothing more; let the attempts in flight finish and be
        recorded for up to STOP_GRACE_SECONDS (one cut short is sent again after its
        lease, perhaps a second time), then cancel the rest. Deliveries claimed
        ahead come back after their lease."""
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
        self._slots.drain()
        if self._tasks:
            grace = min(self.timeout, STOP_GRACE_SECONDS)
            log.info(
                "webhook sender: waiting up to %gs for %d attempts in flight",
                grace,
                len(self._tasks),
            )
            await asyncio.wait(self._tasks, timeout=grace)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._recorder.stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._prune()
                more = await self.send_due()
                wait = 0.0 if more else await self._until_due()
            except UnavailableError as exc:
                log.warning("webhook sender cannot reach the store: %s", exc)
                wait = SAFETY_SECONDS
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            else:
                await asyncio.sleep(0)

    async def _prune(self) -> None:
        """Every PRUNE_SECONDS: delete deliveries finished `retention` ago (0: keep)."""
        if not self.retention or time.monotonic() < self._next_prune:
            return
        self._next_prune = time.monotonic() + PRUNE_SECONDS
        before = self.clock() - self.retention
        while await self.store.purge_deliveries(before, PRUNE_BATCH) == PRUNE_BATCH:
            await asyncio.sleep(0)

    async def _until_due(self) -> float:
        """How long to sleep unless woken: until the next delivery is due."""
        if self._wake.is_set():
            return 0.0  # a slot was freed or work came meanwhile: claim again first
        if not self._slots.room():
            self._starved = True
            return SAFETY_SECONDS  # a freed slot wakes us
        # An endpoint with every slot in flight: the first to finish wakes us for
        # its deliveries, so they are not waited for here (no polling meanwhile).
        full = self._slots.full()
        if not self._next_due.holds(full, self.clock()):
            ticket = self._next_due.ticket()
            due = await self.store.next_delivery_due(full)
            self._next_due.learn(ticket, full, due)
        due = self._next_due.due
        if due is None:
            return SAFETY_SECONDS
        seconds = (due - self.clock()).total_seconds()
        return min(SAFETY_SECONDS, max(seconds, 0.0))

    def reserve(self) -> Reservation:
        """Set the free slots aside for the dispatcher (see Reservation)."""
        lease = self.clock() + timedelta(seconds=self.timeout + LEASE_MARGIN_SECONDS)
        return self._slots.reserve(lease)

    def adopt(
        self, reservation: Reservation, claimed: list[tuple[Delivery, Endpoint]]
    ) -> None:
        """Send what the dispatcher claimed for us; give back the other slots."""
        self._slots.unreserve(reservation)
        for delivery, endpoint in claimed:
            self._slots.take(endpoint.id)
            self._start(delivery, endpoint)
        for delivery, endpoint in self._slots.ready(self._time_left):
            self._start(delivery, endpoint)
        if self._starved and len(claimed) < reservation.slots:
            self._starved = False
            self._wake.set()

    def _start(self, delivery: Delivery, endpoint: Endpoint) -> None:
        """Send it, in the slot taken for it."""
        task = asyncio.create_task(self._send(delivery, endpoint))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def send_due(self) -> bool:
        """Claim what is due, start what has a slot and keep the rest waiting;
        whether more may be due now (the claim read all it could, or an endpoint
        it left some out for has started half of what waits meanwhile)."""
        room = self._slots.room()
        if not room:
            self._starved = True
            return False
        busy = self._slots.full()
        now = self.clock()
        lease = now + timedelta(seconds=self.timeout + LEASE_MARGIN_SECONDS)
        pick = self._slots.picker()
        claimed = await self.store.claim_deliveries(now, lease, room, busy, pick)
        for delivery, endpoint in self._slots.place(claimed):
            self._start(delivery, endpoint)
        self._more = pick.capped | set(busy)
        return pick.seen == room or any(map(self._wants_more, pick.capped))

    def _wants_more(self, endpoint_id: str) -> bool:
        return self._slots.waiting(endpoint_id) <= AHEAD // 2

    async def _send(self, delivery: Delivery, endpoint: Endpoint) -> None:
        try:
            await self._attempt(delivery, endpoint)
        except UnavailableError as exc:  # the lease brings it back
            log.warning("could not record webhook attempt %s: %s", delivery.id, exc)
        except Exception:
            log.exception("webhook attempt %s crashed", delivery.id)

    async def _attempt(self, delivery: Delivery, endpoint: Endpoint) -> None:
        try:
            attempt, now = await self._post(delivery, endpoint)
        finally:
            self._release(endpoint.id)

        def apply(d: Delivery, e: Endpoint) -> tuple[Delivery, Endpoint]:
            failures = d.attempts + 1 - d.schedule_base
            retry_after = parse_retry_after(attempt.retry_after_header, now)
            delay = next_delay(self.schedule, failures, self.jitter(), retry_after)
            return after_attempt(d, e, attempt, now, delay)

        recorded = await self._recorder.record(delivery.id, apply)
        if recorded is None or recorded[1].disabled_at is not None:
            self._slots.drop(endpoint.id)  # the store failed or deleted those too
        if recorded is not None:
            count_outcome(self.metrics, attempt, *recorded, now)
            if recorded[0].status is DeliveryStatus.PENDING:
                self.wake()  # a retry is due: sleep no longer than until then

    async def _post(
        self, delivery: Delivery, endpoint: Endpoint
    ) -> tuple[Attempt, datetime]:
        """One signed POST; what came of it, and when."""
        assert self._session is not None
        started = self.clock()
        attempt = await post(
            self._session,
            endpoint.url,
            delivery.id,
            delivery.payload,
            endpoint.signing_secrets(started),
            int(started.timestamp()),
            timeout=self.timeout,
            allow_private=self.allow_private,
        )
        return attempt, self.clock()

    def _release(self, endpoint_id: str) -> None:
        """The attempt's connection is done (its recording may still be under way:
        the claim keeps the delivery to us): a waiting delivery takes the slot. A
        freed slot matters to the loop only if it found no room, or once an
        endpoint the store has more for has started half of what waited."""
        self._slots.release(endpoint_id)
        for delivery, endpoint in self._slots.ready(self._time_left, endpoint_id):
            self._start(delivery, endpoint)
        if self._starved or (
            endpoint_id in self._more and self._wants_more(endpoint_id)
        ):
            self._starved = False
            self._more.discard(endpoint_id)
            self._wake.set()

    def _time_left(self, delivery: Delivery) -> bool:
        """Whether its claim outlasts an attempt started now and its recording."""
        end = self.clock() + timedelta(seconds=self.timeout + START_MARGIN_SECONDS)
        return delivery.claimed_until is not None and delivery.claimed_until >= end
