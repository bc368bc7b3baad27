"""A sender's concurrency bounds and what it holds: at most MAX_IN_FLIGHT attempts in
flight in a process and PER_ENDPOINT to one endpoint, and up to AHEAD more deliveries
per endpoint claimed ahead, waiting for one of its slots.

Why ahead: with a claim per freed slot, a slot sat idle for the claim's round trip
through the store (~7 ms on SQLite under load, against ~4 ms for the attempt
itself), so an endpoint averaged ~5 attempts in flight of its 16. A delivery
claimed ahead starts the moment a slot frees; the claims that refill the queue
run while the slots are busy.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from datetime import datetime

from vts.webhooks.model import Delivery, Endpoint, Reservation
from vts.webhooks.port import Due

MAX_IN_FLIGHT = 128
PER_ENDPOINT = 16
AHEAD = PER_ENDPOINT
MAX_AHEAD = MAX_IN_FLIGHT
CLAIM_BATCH = 2 * (PER_ENDPOINT + AHEAD)
"""Most deliveries one claim reads: what two endpoints may hold (a pick leaves out
what an endpoint has no room for, so reading all the room there is would mostly
read one endpoint's backlog to leave it out)."""
Held = tuple[Delivery, Endpoint]


class Picker:
    """A claim's Pick: of the due deliveries, those each endpoint has room for
    (in flight and ahead), in order; `capped` names the endpoints it left some of
    out for, `seen` how many it was offered."""

    def __init__(self, left: dict[str, int]) -> None:
        self._left = left
        self.capped: set[str] = set()
        self.seen = 0

    def __call__(self, due: Sequence[Due]) -> list[Due]:
        self.seen = len(due)
        taken = []
        for delivery_id, endpoint_id in due:
            slots = self._left.get(endpoint_id, PER_ENDPOINT + AHEAD)
            if slots > 0:
                self._left[endpoint_id] = slots - 1
                taken.append((delivery_id, endpoint_id))
            else:
                self.capped.add(endpoint_id)
        return taken


class Slots:
    """Counts and queues, no I/O. A delivery is taken into a slot (`place`,
    `take`, `ready`) when its attempt starts, and the slot freed (`release`) when
    the attempt's connection is done; then `ready` hands over what waited."""

    def __init__(self) -> None:
        self._in_flight: Counter[str] = Counter()
        self._taken = 0
        self._reserved = 0
        self._waiting: dict[str, deque[Held]] = {}
        self._ahead = 0

    def free(self) -> int:
        """Slots for attempts to start now."""
        return max(0, MAX_IN_FLIGHT - self._taken - self._reserved)

    def room(self) -> int:
        """How many deliveries a claim may take now (to start or to wait)."""
        return min(CLAIM_BATCH, self.free() + max(0, MAX_AHEAD - self._ahead))

    def held(self, endpoint_id: str) -> int:
        waiting = self._waiting.get(endpoint_id)
        return self._in_flight[endpoint_id] + (len(waiting) if waiting else 0)

    def full(self) -> list[str]:
        """The endpoints holding all they may (left out of claims)."""
        held = {*self._in_flight, *self._waiting}
        return [e for e in held if self.held(e) >= PER_ENDPOINT + AHEAD]

    def picker(self) -> Picker:
        """The pick of one claim, with the room there is now (a copy: the store may
        run it on its own thread)."""
        held = {*self._in_flight, *self._waiting}
        return Picker({e: PER_ENDPOINT + AHEAD - self.held(e) for e in held})

    def waiting(self, endpoint_id: str) -> int:
        waiting = self._waiting.get(endpoint_id)
        return len(waiting) if waiting else 0

    def place(self, claimed: Sequence[Held]) -> list[Held]:
        """Claimed deliveries, in order: those that may start now (their slots
        taken); the others wait, after those of their endpoint already waiting."""
        start = []
        for held in claimed:
            endpoint_id = held[1].id
            if (
                self.free()
                and self._in_flight[endpoint_id] < PER_ENDPOINT
                and endpoint_id not in self._waiting
            ):
                self.take(endpoint_id)
                start.append(held)
            else:
                self._waiting.setdefault(endpoint_id, deque()).append(held)
                self._ahead += 1
        return start

    def reserve(self, lease_until: datetime) -> Reservation:
        """Set every free slot aside (see Reservation) until `unreserve`."""
        free = self.free()
        self._reserved += free
        return Reservation(free, dict(self._in_flight), PER_ENDPOINT, lease_until)

    def unreserve(self, reservation: Reservation) -> None:
        self._reserved -= reservation.slots

    def take(self, endpoint_id: str) -> None:
        self._in_flight[endpoint_id] += 1
        self._taken += 1

    def release(self, endpoint_id: str) -> None:
        """Free one of the endpoint's slots."""
        self._in_flight[endpoint_id] -= 1
        self._taken -= 1
        if self._in_flight[endpoint_id] <= 0:
            del self._in_flight[endpoint_id]

    def ready(self, fits: Callable[[Delivery], bool], first: str = "") -> list[Held]:
        """The waiting deliveries that have a slot now, oldest first per endpoint
        (`first`'s before the others), their slots taken; one that does not `fit`
        (its claim too close to its end) is forgotten: its lease brings it back."""
        start = []
        for endpoint_id in sorted(self._waiting, key=lambda e: e != first):
            waiting = self._waiting[endpoint_id]
            while (
                waiting and self.free() and self._in_flight[endpoint_id] < PER_ENDPOINT
            ):
                held = waiting.popleft()
                self._ahead -= 1
                if fits(held[0]):
                    self.take(endpoint_id)
                    start.append(held)
            if not waiting:
                del self._waiting[endpoint_id]
        return start

    def drop(self, endpoint_id: str) -> list[Held]:
        """Forget the endpoint's waiting deliveries (disabled or deleted)."""
        waiting = list(self._waiting.pop(endpoint_id, ()))
        self._ahead -= len(waiting)
        return waiting

    def drain(self) -> list[Held]:
        """Forget every waiting delivery (stopping): their leases bring them back."""
        return [held for e in list(self._waiting) for held in self.drop(e)]
