"""The WebhookStore contract on every backend: tenant-scoped endpoints, the outbox
made in the transaction that moves the dispatch cursor, claims under a lease."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest
from _support import T0, make_job
from _webhooks import dispatch, endpoint, hooks, plan, take_all

from vts.ports import JobStore
from vts.snapshot import Snapshot
from vts.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    Reservation,
    after_attempt,
    new_secret,
)
from vts.webhooks.recorder import AttemptRecorder

LEASE = T0 + timedelta(seconds=30)


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_endpoints_are_tenant_scoped(store: JobStore) -> None:
    mine, theirs = endpoint("acme"), endpoint("other")
    for e in (mine, theirs):
        await hooks(store).create_endpoint(e)
    assert await hooks(store).get_endpoint(mine.id, tenant="acme") == mine
    assert await hooks(store).get_endpoint(mine.id, tenant=None) == mine
    assert await hooks(store).get_endpoint(mine.id, tenant="other") is None
    assert await hooks(store).list_endpoints(tenant="acme") == [mine]
    assert len(await hooks(store).list_endpoints(tenant=None)) == 2
    assert not await hooks(store).delete_endpoint(mine.id, tenant="other")
    assert await hooks(store).rotate_secret(mine.id, "s", T0, tenant="other") is None
    assert await hooks(store).delete_endpoint(mine.id, tenant="acme")
    assert await hooks(store).get_endpoint(mine.id, tenant=None) is None


async def test_rotation_keeps_the_old_secret_until_it_expires(store: JobStore) -> None:
    e = endpoint()
    await hooks(store).create_endpoint(e)
    new = new_secret()
    rotated = await hooks(store).rotate_secret(e.id, new, LEASE, tenant="default")
    assert rotated is not None
    assert (rotated.secret, rotated.previous_secret) == (new, e.secret)
    assert rotated.signing_secrets(T0) == [new, e.secret]
    assert rotated.signing_secrets(LEASE) == [new]


async def test_dispatch_makes_deliveries_once_and_moves_the_cursor(
    store: JobStore,
) -> None:
    wanted = endpoint(events=("job.pending",))
    other_tenant = endpoint("other")
    for e in (wanted, other_tenant):
        await hooks(store).create_endpoint(e)
    for n in (1, 2):
        await store.create(make_job(job_id(n)), None)
    assert await dispatch(store) == (2, 2)
    assert await dispatch(store) == (0, 0)
    await store.create(make_job(job_id(3)), None)
    assert await dispatch(store) == (1, 1)
    made = await hooks(store).list_deliveries(wanted.id, None, None, 10)
    assert [d.job_id for d in made] == [job_id(3), job_id(2), job_id(1)]
    assert {d.type for d in made} == {"job.pending"}
    assert await hooks(store).list_deliveries(other_tenant.id, None, None, 10) == []


async def test_a_dispatch_that_fails_commits_nothing(store: JobStore) -> None:
    e = endpoint()
    await hooks(store).create_endpoint(e)
    await store.create(make_job(job_id(1)), None)

    def crash(
        events: Sequence[tuple[int, Snapshot]], endpoints: Sequence[Endpoint]
    ) -> list[Delivery]:
        plan(events, endpoints)
        raise RuntimeError("killed mid-dispatch")

    with pytest.raises(RuntimeError):
        await hooks(store).dispatch_events(500, crash)
    assert await hooks(store).list_deliveries(e.id, None, None, 10) == []
    assert await dispatch(store) == (1, 1)


async def dispatched(store: JobStore, e: Endpoint, jobs: int = 1) -> list[Delivery]:
    await hooks(store).create_endpoint(e)
    for n in range(1, jobs + 1):
        await store.create(make_job(job_id(n)), None)
    await hooks(store).dispatch_events(500, plan)
    return await hooks(store).list_deliveries(e.id, None, None, 100)


async def test_a_claim_is_leased_and_comes_back_when_the_lease_ends(
    store: JobStore,
) -> None:
    e = endpoint()
    (delivery,) = await dispatched(store, e)
    assert await hooks(store).next_delivery_due() == T0
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
    assert await hooks(store).next_delivery_due() == retry_at
    assert await hooks(store).claim_deliveries(later, LEASE, 10, [], take_all) == []
    claimed = await hooks(store).claim_deliveries(retry_at, LEASE, 10, [], take_all)
    assert [c.id for c, _ in claimed] == [delivery.id]
    (listed,) = await hooks(store).list_deliveries(e.id, None, None, 10)
    assert listed == d
    assert await hooks(store).webhook_counts() == (1, 0)


async def test_410_disables_the_endpoint_and_fails_its_pending(
    store: JobStore,
) -> None:
    e = endpoint()
    first, second = await dispatched(store, e, jobs=2)

    def gone(d: Delivery, ep: Endpoint) -> tuple[Delivery, Endpoint]:
        return after_attempt(d, ep, Attempt(410), T0, 5.0)

    await hooks(store).record_attempts([(first.id, gone)])
    disabled = await hooks(store).get_endpoint(e.id, tenant=None)
    assert disabled is not None and disabled.disabled_at == T0
    assert "410" in (disabled.disabled_reason or "")
    statuses = {
        d.id: d.status for d in await hooks(store).list_deliveries(e.id, None, None, 9)
    }
    assert statuses == {first.id: "failed", second.id: "failed"}
    assert await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all) == []
    assert await hooks(store).webhook_counts() == (0, 1)
    # No new deliveries for a disabled endpoint.
    await store.create(make_job(job_id(9)), None)
    assert await dispatch(store) == (1, 0)

    retried = await hooks(store).retry_delivery(e.id, second.id, T0)
    assert retried is not None and retried.status is DeliveryStatus.PENDING
    assert retried.schedule_base == retried.attempts
    enabled = await hooks(store).get_endpoint(e.id, tenant=None)
    assert enabled is not None and enabled.disabled_at is None
    claimed = await hooks(store).claim_deliveries(T0, LEASE, 10, [], take_all)
    assert [d.id for d, _ in claimed] == [second.id]
    assert await hooks(store).retry_delivery(e.id, "msg_unknown", T0) is None


async def test_deliveries_page_newest_first_by_status(store: JobStore) -> None:
    e = endpoint()
    made = await dispatched(store, e, jobs=3)
    page = await hooks(store).list_deliveries(e.id, None, None, 2)
    assert page == made[:2]
    rest = await hooks(store).list_deliveries(e.id, None, page[-1].event_seq, 2)
    assert rest == made[2:]
    assert (
        await hooks(store).list_deliveries(e.id, DeliveryStatus.FAILED, None, 9) == []
    )
    assert (
        len(await hooks(store).list_deliveries(e.id, DeliveryStatus.PENDING, None, 9))
        == 3
    )
    assert await hooks(store).delete_endpoint(e.id, tenant=None)
    assert await hooks(store).list_deliveries(e.id, None, None, 9) == []
    assert await hooks(store).webhook_counts() == (0, 0)


async def test_the_first_endpoint_starts_after_the_history(store: JobStore) -> None:
    """With no endpoint the dispatcher skips the log; the first one moves the cursor
    to its end, so nothing logged before it is read or sent."""
    assert not await hooks(store).endpoints_exist()
    await store.create(make_job(job_id(1)), None)
    e = endpoint()
    await hooks(store).create_endpoint(e)
    assert await hooks(store).endpoints_exist()
    assert await dispatch(store) == (0, 0)
    await store.create(make_job(job_id(2)), None)
    await hooks(store).create_endpoint(endpoint())  # not the first: the cursor stays
    assert await dispatch(store) == (1, 2)
    (made,) = await hooks(store).list_deliveries(e.id, None, None, 10)
    assert made.job_id == job_id(2)


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
