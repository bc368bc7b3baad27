"""The WebhookStore contract on every backend, the senders' side: claims under a
lease, attempts recorded (together, in order), pruning."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from _support import T0, make_job
from _webhooks import dispatched, endpoint, hooks, job_id, plan, take_all

from vts.ports import JobStore
from vts.snapshot import Snapshot
from vts.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Reservation,
    after_attempt,
)
from vts.webhooks.recorder import AttemptRecorder

LEASE = T0 + timedelta(seconds=30)


async def test_a_claim_is_leased_and_comes_back_when_the_lease_ends(
    store: JobStore,
) -> None:
    e = endpoint()
    (delivery,) = await dispatched(store, e)
    assert await hooks(store).next_delivery_due([]) == T0
    assert await hooks(store).next_delivery_due([e.id]) is None
    first = await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all)
    assert [(d.id, ep.id) for d, ep in first] == [(delivery.id, e.id)]
    assert first[0][1].secret == e.secret
    assert await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all) == []
    after_lease = LEASE + timedelta(seconds=1)
    again = await hooks(store).claim_deliveries(
        after_lease, after_lease, 10, [], take_all
    )
    assert [d.id for d, _ in again] == [delivery.id]


async def test_busy_endpoints_and_picks_limit_claims(store: JobStore) -> None:
    e = endpoint()
    deliveries = await dispatched(store, e, jobs=3)
    assert await hooks(store).claim_deliveries(T0, LEASE, 10, [e.id], take_all) == []
    one = await hooks(store).claim_deliveries(T0, LEASE, 10, [], lambda d: list(d[:1]))
    assert len(one) == 1
    rest = await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all)
    assert {d.id for d, _ in [*one, *rest]} == {d.id for d in deliveries}


async def test_recording_an_attempt_releases_the_claim(store: JobStore) -> None:
    e = endpoint()
    (delivery,) = await dispatched(store, e)
    await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all)
    failed = Attempt(503, response="busy")
    later = T0 + timedelta(seconds=1)

    def retry_in_5s(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        return after_attempt(d, ep, failed, later, 5.0)

    (recorded,) = await hooks(store).record_attempts([(delivery.id, retry_in_5s)])
    assert recorded is not None
    d, ep = recorded
    assert (d.status, d.attempts, d.last_status, d.last_response) == (
        DeliveryStatus.PENDING,
        1,
        503,
        "busy",
    )
    assert ep.failing_since == later
    retry_at = later + timedelta(seconds=5)
    assert await hooks(store).next_delivery_due([]) == retry_at
    assert await hooks(store).claim_deliveries(later, LEASE, 10, [], take_all) == []
    claimed = await hooks(store).claim_deliveries(retry_at, LEASE, 10, [], take_all)
    assert [c.id for c, _ in claimed] == [delivery.id]
    (listed,) = await hooks(store).list_deliveries(e.id, None, None, 10)
    assert listed == d
    assert await hooks(store).webhook_counts() == (1, 0, 0)


async def test_finished_deliveries_are_purged_by_age(store: JobStore) -> None:
    e = endpoint()
    done, failed, pending = await dispatched(store, e, jobs=3)
    for d, attempt in ((done, Attempt(200)), (failed, Attempt(500))):

        def finish(
            x: Delivery, ep: Endpoint, attempt: Attempt = attempt
        ) -> tuple[Delivery, Endpoint]:
            return after_attempt(x, ep, attempt, T0, None)

        await hooks(store).record_attempts([(d.id, finish)])
    assert await hooks(store).purge_deliveries(T0, 10) == 0
    later = T0 + timedelta(seconds=1)
    assert await hooks(store).purge_deliveries(later, 1) == 1
    assert await hooks(store).purge_deliveries(later, 10) == 1
    left = await hooks(store).list_deliveries(e.id, None, None, 10)
    assert [d.id for d in left] == [pending.id]


async def test_attempts_recorded_together_apply_in_order(store: JobStore) -> None:
    """A batch of attempts: each sees its endpoint as the earlier ones left it; a
    delivery that is gone comes back as None; a 410 fails the rest."""
    e = endpoint()
    first, second, third = await dispatched(store, e, jobs=3)

    def failing(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        return after_attempt(
            d, ep, Attempt(503), T0 + timedelta(seconds=d.event_seq), 5
        )

    def gone(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        return after_attempt(d, ep, Attempt(410), T0 + timedelta(days=1), 5)

    results = await hooks(store).record_attempts(
        [(first.id, failing), ("msg_gone", failing), (second.id, failing)]
    )
    assert results[1] is None
    assert results[0] is not None and results[2] is not None
    # The streak started at the first failure and the second kept it.
    assert results[2][1].failing_since == results[0][1].failing_since
    (done,) = await hooks(store).record_attempts([(second.id, gone)])
    assert done is not None and done[1].disabled_at is not None
    statuses = {
        d.id: d.status for d in await hooks(store).list_deliveries(e.id, None, None, 9)
    }
    assert statuses == {first.id: "failed", second.id: "failed", third.id: "failed"}


async def test_deliveries_made_claimed_are_left_to_their_claimer(
    store: JobStore,
) -> None:
    """The dispatcher claims what its own sender has room for as it inserts it:
    no other claim takes those until the lease runs out."""
    e = endpoint()
    await hooks(store).create_endpoint(e)
    for n in (1, 2):
        await store.create(make_job(job_id(n)), None)
    reservation = Reservation(1, {}, 16, LEASE)

    def claiming(
        events: Sequence[tuple[int, Snapshot]], endpoints: Sequence[Endpoint]
    ) -> list[Delivery]:
        return reservation.claim(plan(events, endpoints))

    result = await hooks(store).dispatch_events(500, claiming)
    assert result is not None
    mine, other = result[1]
    assert (mine.claimed_until, other.claimed_until) == (LEASE, None)
    long_lease = LEASE + timedelta(hours=1)
    claimed = await hooks(store).claim_deliveries(T0, long_lease, 10, [], take_all)
    assert [d.id for d, _ in claimed] == [other.id]
    after = LEASE + timedelta(seconds=1)
    again = await hooks(store).claim_deliveries(after, after, 10, [], take_all)
    assert [d.id for d, _ in again] == [mine.id]


async def test_any_answer_of_a_receiver_is_recorded(store: JobStore) -> None:
    """Whatever bytes a receiver answers, a NUL included, are kept as text."""
    e = endpoint()
    (delivery,) = await dispatched(store, e)

    def odd(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        answer = Attempt(500, response="a\x00b\udcff", error="x\x00")
        return after_attempt(d, ep, answer, T0, 5.0)

    ((recorded, _),) = await hooks(store).record_attempts([(delivery.id, odd)])
    (listed,) = await hooks(store).list_deliveries(e.id, None, None, 10)
    assert listed.last_response == recorded.last_response
    assert listed.last_response is not None and listed.last_response.startswith("a")


async def test_one_bad_attempt_leaves_the_others_recorded(store: JobStore) -> None:
    """Attempts are recorded by group commit; one whose recording fails fails alone."""
    e = endpoint()
    first, second, third = await dispatched(store, e, jobs=3)
    recorder = AttemptRecorder(hooks(store))

    def ok(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        return after_attempt(d, ep, Attempt(200), T0, None)

    def boom(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        raise RuntimeError("a bug in one attempt")

    results = await asyncio.gather(
        recorder.record(first.id, ok),
        recorder.record(second.id, boom),
        recorder.record(third.id, ok),
        return_exceptions=True,
    )
    assert isinstance(results[1], RuntimeError)
    statuses = {
        d.id: d.status for d in await hooks(store).list_deliveries(e.id, None, None, 9)
    }
    assert statuses == {
        first.id: "succeeded",
        second.id: "pending",
        third.id: "succeeded",
    }
