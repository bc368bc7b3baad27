"""The sender's bookkeeping, no I/O: its concurrency bounds and what it claimed
ahead (Slots), and when it must read the next due time again (NextDue)."""

from __future__ import annotations

from datetime import timedelta

from _support import T0
from _webhooks import endpoint

from vts.webhooks.due import NextDue
from vts.webhooks.model import Delivery
from vts.webhooks.slots import (
    AHEAD,
    CLAIM_BATCH,
    MAX_IN_FLIGHT,
    PER_ENDPOINT,
    Held,
    Slots,
)

LATER = T0 + timedelta(seconds=5)


def held(n: int, endpoint_id: str) -> Held:
    e = endpoint(id=endpoint_id)
    delivery = Delivery(
        id=f"msg_{endpoint_id}{n}",
        endpoint_id=endpoint_id,
        tenant=e.tenant,
        event_seq=n,
        job_id="j",
        type="job.completed",
        payload=b"{}",
        changed_at=T0,
        created_at=T0,
    )
    return delivery, e


def test_a_pick_lets_through_what_each_endpoint_may_hold() -> None:
    slots = Slots()
    slots.place([held(n, "a") for n in range(PER_ENDPOINT + AHEAD - 1)])
    due = [(f"d{n}", endpoint) for n, endpoint in enumerate("aabab")]
    pick = slots.picker()
    assert pick(due) == [("d0", "a"), ("d2", "b"), ("d4", "b")]
    assert (pick.capped, pick.seen) == ({"a"}, 5)
    assert slots.full() == []  # the claim's own are not placed yet
    slots.place([held(99, "a")])
    assert slots.full() == ["a"]


def test_what_has_no_slot_waits_and_takes_the_next_one_freed() -> None:
    slots = Slots()
    claimed = [held(n, "a") for n in range(PER_ENDPOINT + 2)]
    assert slots.place(claimed) == claimed[:PER_ENDPOINT]
    assert (slots.waiting("a"), slots.held("a")) == (2, PER_ENDPOINT + 2)
    assert slots.free() == MAX_IN_FLIGHT - PER_ENDPOINT
    assert slots.room() == CLAIM_BATCH  # not all the room there is: see CLAIM_BATCH
    slots.release("a")
    assert slots.ready(lambda d: True, "a") == [claimed[PER_ENDPOINT]]
    assert slots.free() == MAX_IN_FLIGHT - PER_ENDPOINT  # its slot, taken at once
    assert slots.drop("a") == [claimed[PER_ENDPOINT + 1]]
    slots.release("a")
    assert slots.ready(lambda d: True, "a") == []
    assert slots.held("a") == PER_ENDPOINT - 1


def test_a_waiting_delivery_whose_claim_runs_out_is_let_go() -> None:
    slots = Slots()
    claimed = [held(n, "a") for n in range(PER_ENDPOINT + 2)]
    slots.place(claimed)
    slots.release("a")
    late = claimed[PER_ENDPOINT][0].id
    assert slots.ready(lambda d: d.id != late) == [claimed[PER_ENDPOINT + 1]]
    assert slots.waiting("a") == 0


def test_a_full_process_holds_back_what_any_freed_slot_then_starts() -> None:
    slots = Slots()
    endpoints = [f"e{n}" for n in range(MAX_IN_FLIGHT // PER_ENDPOINT)]
    for e in endpoints:
        slots.place([held(n, e) for n in range(PER_ENDPOINT)])
    assert slots.free() == 0
    late = held(0, "late")
    assert slots.place([late]) == []  # "late" has room, the process has none
    slots.release("e0")
    assert slots.ready(lambda d: True, "e0") == [late]
    assert slots.free() == 0
    assert slots.drain() == []


def test_a_reservation_takes_every_free_slot_until_handed_back() -> None:
    slots = Slots()
    slots.take("a")
    reservation = slots.reserve(LATER)
    assert (reservation.slots, reservation.in_flight) == (MAX_IN_FLIGHT - 1, {"a": 1})
    assert slots.free() == 0
    assert slots.place([held(0, "b")]) == []
    assert slots.waiting("b") == 1
    slots.unreserve(reservation)
    assert slots.free() == MAX_IN_FLIGHT - 1
    assert [d.id for d, _ in slots.ready(lambda d: True)] == ["msg_b0"]
    assert slots.waiting("b") == 0
    slots.place([held(1, "b")])
    assert len(slots.drain()) == 0  # it had a slot: started, not waiting


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
