"""A sender's concurrency bounds: at most MAX_IN_FLIGHT attempts in flight in a
process and PER_ENDPOINT to one endpoint, with the slots set aside for the
dispatcher (a Reservation) counted as taken until it hands them back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from vts.webhooks.model import Reservation
from vts.webhooks.port import Due

MAX_IN_FLIGHT = 128
PER_ENDPOINT = 16


class Picker:
    """A claim's Pick: of the due deliveries, those the per-endpoint bound lets
    start, in order; `capped` names the endpoints it left some of out for."""

    def __init__(self, left: dict[str, int]) -> None:
        self._left = left
        self.capped: set[str] = set()

    def __call__(self, due: Sequence[Due]) -> list[Due]:
        taken = []
        for delivery_id, endpoint_id in due:
            slots = self._left.get(endpoint_id, PER_ENDPOINT)
            if slots > 0:
                self._left[endpoint_id] = slots - 1
                taken.append((delivery_id, endpoint_id))
            else:
                self.capped.add(endpoint_id)
        return taken


class Slots:
    """Counts, no I/O: `take` when an attempt starts, `release` when its connection
    is done."""

    def __init__(self) -> None:
        self._in_flight: Counter[str] = Counter()
        self._taken = 0
        self._reserved = 0

    def free(self) -> int:
        return max(0, MAX_IN_FLIGHT - self._taken - self._reserved)

    def full(self) -> list[str]:
        """The endpoints with every slot in flight (left out of claims)."""
        return [e for e, n in self._in_flight.items() if n >= PER_ENDPOINT]

    def picker(self) -> Picker:
        """The pick of one claim, with the slots free now (a copy: the store may
        run it on its own thread)."""
        return Picker({e: PER_ENDPOINT - n for e, n in self._in_flight.items()})

    def has_room(self, endpoints: Iterable[str]) -> bool:
        """Whether any of `endpoints` has a free slot."""
        return any(self._in_flight[e] < PER_ENDPOINT for e in endpoints)

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

    def release(self, endpoint_id: str) -> bool:
        """Free one of the endpoint's slots; whether it had every slot in flight."""
        was_full = self._in_flight[endpoint_id] >= PER_ENDPOINT
        self._in_flight[endpoint_id] -= 1
        self._taken -= 1
        if self._in_flight[endpoint_id] <= 0:
            del self._in_flight[endpoint_id]
        return was_full
