"""Fair claims, on every store backend: one tenant's backlog never starves another's;
and the per-tenant counts the active-job quota reads.

A claim ranks due jobs by their place in their own tenant's queue first, so every
tenant's oldest job is taken before any tenant's second; FIFO holds within a tenant.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import attrs
from _support import T0, make_job

from vts.domain import Cancel, Claim, Job, transition
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore, KeyStore


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def claim(store: JobStore, now: datetime, limit: int) -> list[Job]:
    event = Claim("w1", now + timedelta(seconds=30))
    claimed = await store.claim(now, limit, lambda job: transition(job, event, now))
    return [job for job, _ in claimed]


async def create(store: JobStore, tenant: str, first: int, count: int) -> list[str]:
    """`count` pending jobs of `tenant`, created in id order (oldest first)."""
    ids = [job_id(n) for n in range(first, first + count)]
    for chunk in range(0, count, 500):  # concurrent: they share group commits
        await asyncio.gather(
            *(
                store.create(make_job(i, tenant=tenant), None)
                for i in ids[chunk : chunk + 500]
            )
        )
    return ids


async def test_a_backlog_does_not_delay_another_tenants_single_job(
    store: JobStore,
) -> None:
    backlog = await create(store, "acme", 0, 3000)
    [single] = await create(store, "globex", 10_000, 1)

    first = await claim(store, at(1), limit=8)

    ids = [j.job_id for j in first]
    assert single in ids  # in the first claim round, not after 3,000 others
    assert sorted(ids[:2]) == sorted([backlog[0], single])
    ours = [i for i in ids if i != single]
    assert len(ours) == 7
    assert sorted(ours) == ours  # acme's own jobs still FIFO...
    assert set(ours) <= set(backlog[:7])  # ...and its oldest


async def test_claims_round_robin_across_tenants_fifo_within_each(
    store: JobStore,
) -> None:
    queues = {
        "acme": await create(store, "acme", 0, 5),
        "globex": await create(store, "globex", 100, 5),
        "initech": await create(store, "initech", 200, 5),
    }

    taken: list[list[str]] = []
    while batch := await claim(store, at(1), limit=6):
        taken.append([j.job_id for j in batch])

    assert [len(b) for b in taken] == [6, 6, 3]
    for number, batch in enumerate(taken):
        by_tenant = {
            tenant: [i for i in batch if i in ids] for tenant, ids in queues.items()
        }
        # Two of each tenant per round of six: none waits for another's backlog.
        want = 2 if number < 2 else 1
        assert {len(v) for v in by_tenant.values()} == {want}, batch
    for ids in queues.values():  # each tenant's jobs in the order it sent them
        assert [i for b in taken for i in b if i in ids] == ids


async def test_an_older_due_job_still_leads_within_a_round(store: JobStore) -> None:
    late = make_job(job_id(1), tenant="acme", available_at=at(5))
    early = make_job(job_id(2), tenant="globex", available_at=at(1))
    future = make_job(job_id(3), tenant="initech", available_at=at(50))
    for job in (late, early, future):
        await store.create(job, None)
    await create(store, "acme", 10, 2)  # available at T0: acme's oldest due

    claimed = [j.job_id for j in await claim(store, at(10), limit=10)]

    # Round one: each tenant's oldest due job, by due time; initech's is not due.
    assert claimed[:2] == [job_id(10), early.job_id]
    assert claimed[2:] == [job_id(11), late.job_id]


async def test_a_tenant_with_only_future_work_does_not_block_a_claim(
    store: JobStore,
) -> None:
    for n in range(3):
        await store.create(
            attrs.evolve(make_job(job_id(n), tenant="acme"), available_at=at(100)),
            None,
        )
    [due] = await create(store, "globex", 50, 1)

    assert [j.job_id for j in await claim(store, at(1), limit=2)] == [due]
    assert len(await claim(store, at(101), limit=5)) == 3


async def test_active_jobs_are_counted_per_tenant(store: JobStore) -> None:
    assert isinstance(store, KeyStore)
    await create(store, "acme", 0, 3)
    await create(store, "globex", 10, 1)
    await store.create(
        make_job(job_id(20), tenant="acme"), IdempotencyClaim("order-7", "fp")
    )
    [claimed] = await claim(store, at(1), limit=1)  # processing: still active
    cancelled = transition(
        await store.get(job_id(1), tenant=None), Cancel(), at(2)
    )  # a final job is not active
    await store.update(cancelled, cancelled.version - 1)

    assert await store.count_active_jobs("acme") == 3
    assert await store.count_active_jobs("globex") == 1
    assert await store.count_active_jobs("initech") == 0
    assert await store.has_idempotency_key("acme", "order-7")
    assert not await store.has_idempotency_key("globex", "order-7")
    assert not await store.has_idempotency_key("acme", "order-8")
    assert claimed.tenant in ("acme", "globex")
