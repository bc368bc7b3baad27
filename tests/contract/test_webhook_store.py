"""The WebhookStore contract on every backend: tenant-scoped endpoints, the outbox
made in the transaction that moves the dispatch cursor, listing and manual retries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from _support import FAR_FUTURE, T0, make_job
from _webhooks import dispatch, dispatched, endpoint, hooks, job_id, plan, take_all

from vts.ports import JobStore
from vts.snapshot import Snapshot
from vts.webhooks.model import (
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    after_attempt,
    new_secret,
)

LEASE = T0 + timedelta(seconds=30)


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
    assert await hooks(store).webhook_counts() == (0, 1, 0)
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
    assert await hooks(store).webhook_counts() == (0, 0, 0)


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


async def test_pruning_keeps_the_events_the_dispatcher_has_not_read(
    store: JobStore,
) -> None:
    """However old, an event stays in the log until the webhook dispatcher has
    read it (say it was down past VTS_EVENT_RETENTION): no message is lost."""
    await hooks(store).create_endpoint(endpoint())
    for n in range(1, 4):
        await store.create(make_job(job_id(n)), None)
    assert await store.purge_events(FAR_FUTURE, 100) == 0
    assert (await hooks(store).webhook_counts()).undispatched == 3
    assert await dispatch(store) == (3, 3)
    assert (await hooks(store).webhook_counts()).undispatched == 0
    assert await store.purge_events(FAR_FUTURE, 100) == 3
    assert await store.oldest_event_seq() is None


async def test_no_endpoint_means_nothing_undispatched(store: JobStore) -> None:
    """While no endpoint exists the dispatcher rests; the log is not owed to it."""
    await store.create(make_job(job_id(1)), None)
    assert await hooks(store).webhook_counts() == (0, 0, 0)
