"""The sender's bookkeeping, no I/O: its concurrency bounds (Slots) and when it
must read the next due time from the store again (NextDue)."""

from __future__ import annotations

from datetime import timedelta

from _support import T0

from vts.webhooks.due import NextDue
from vts.webhooks.slots import MAX_IN_FLIGHT, PER_ENDPOINT, Slots

LATER = T0 + timedelta(seconds=5)


def test_a_pick_lets_through_what_each_endpoint_has_room_for() -> None:
    slots = Slots()
    for _ in range(PER_ENDPOINT - 1):
        slots.take("a")
    due = [(f"d{n}", endpoint) for n, endpoint in enumerate("aabab")]
    pick = slots.picker()
    assert pick(due) == [("d0", "a"), ("d2", "b"), ("d4", "b")]
    assert pick.capped == {"a"}
    assert slots.full() == []
    assert slots.has_room(pick.capped)  # the claim's own are not started yet
    slots.take("a")
    assert slots.full() == ["a"]
    assert not slots.has_room(pick.capped)
    assert slots.free() == MAX_IN_FLIGHT - PER_ENDPOINT
    assert slots.release("a") is True
    assert slots.release("a") is False
    assert slots.free() == MAX_IN_FLIGHT - PER_ENDPOINT + 2


def test_a_reservation_takes_every_free_slot_until_handed_back() -> None:
    slots = Slots()
    slots.take("a")
    reservation = slots.reserve(LATER)
    assert (reservation.slots, reservation.in_flight) == (MAX_IN_FLIGHT - 1, {"a": 1})
    assert slots.free() == 0
    slots.unreserve(reservation)
    assert slots.free() == MAX_IN_FLIGHT - 1


def test_the_next_due_time_holds_until_new_work_or_a_slot_or_its_time() -> None:
    due = NextDue()
    assert not due.holds([], T0)
    due.learn(due.ticket(), ["a"], LATER)
    assert due.holds(["a"], T0) and due.holds(["a", "b"], T0)
    assert due.due == LATER
    assert not due.holds([], T0)  # "a" has a slot again: its deliveries count
    assert not due.holds(["a"], LATER)  # its time came
    due.forget()  # deliveries made, a retry recorded...
    assert not due.holds(["a"], T0)


def test_nothing_pending_holds_until_new_work() -> None:
    due = NextDue()
    due.learn(due.ticket(), [], None)
    assert due.holds([], LATER + timedelta(days=1))
    due.forget()
    assert not due.holds([], T0)


def test_an_answer_asked_for_before_new_work_is_not_kept() -> None:
    due = NextDue()
    ticket = due.ticket()
    due.forget()  # a retry was recorded while the store was being read
    due.learn(ticket, [], None)
    assert due.due is None
    assert not due.holds([], T0)
