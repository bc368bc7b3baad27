"""The JobStore contract: one suite, run against every store backend."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from _support import T0, make_job

from vts.domain import (
    Cancel,
    Claim,
    Event,
    Job,
    JobError,
    JobStatus,
    transition,
)
from vts.errors import (
    IdempotencyKeyReusedError,
    JobNotFoundError,
    VersionConflictError,
)
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def create_jobs(store: JobStore, count: int) -> list[Job]:
    """`count` pending jobs, created one after the other (oldest first)."""
    return [(await store.create(make_job(job_id(n)), None))[0] for n in range(count)]


async def claim(
    store: JobStore, owner: str, now: datetime, limit: int = 100, lease: float = 30
) -> list[Job]:
    event = Claim(owner, now + timedelta(seconds=lease))
    claimed = await store.claim(now, limit, lambda job: transition(job, event, now))
    return [job for job, _ in claimed]


async def advance(store: JobStore, job: Job, event: Event, now: datetime) -> Job:
    new = transition(job, event, now)
    await store.update(new, job.version)
    return new


# --- create and get ---------------------------------------------------------------


async def test_create_get_round_trip_preserves_every_field(store: JobStore) -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    job = make_job(
        job_id(1),
        status=JobStatus.PROCESSING,
        source_language="ja",
        target_language="pt-BR",
        metadata={
            "title": 'Café ☕ 東京 — "quoted" \\ \u2028 🎬',
            "nested": {"list": [1, 2.5, None, True, {"deep": ["ü", {}]}], "e": []},
            "ключ": "значение",
        },
        created_at=datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=india),
        updated_at=datetime(2026, 3, 4, 6, 0, 0, 654321, tzinfo=UTC),
        max_attempts=5,
        version=7,
        progress=42,
        stage="translating",
        attempts=2,
        lease_losses=4,
        error=JobError("timeout", "the ASR backend timed out ⏱", retryable=True),
        result={"output_url": "https://example.com/out.mp4", "sizes": [1, 2]},
        started_at=at(1.000001),
        completed_at=at(2.5),
        available_at=at(3.25),
        lease_owner="worker-ü-1",
        lease_expires_at=at(60.999999),
    )
    stored, created = await store.create(job, None)
    assert (stored, created) == (job, True)

    got = await store.get(job.job_id, tenant=None)

    assert got == job
    assert all(
        moment is None or moment.utcoffset() is not None
        for moment in (got.created_at, got.started_at, got.lease_expires_at)
    )


async def test_get_unknown_id_raises_job_not_found(store: JobStore) -> None:
    with pytest.raises(JobNotFoundError) as caught:
        await store.get(job_id(404), tenant=None)
    assert caught.value.job_id == job_id(404)


async def test_create_with_same_idempotency_claim_returns_first_job(
    store: JobStore,
) -> None:
    claim_ = IdempotencyClaim("key-1", "fingerprint-a")
    first, created = await store.create(make_job(job_id(1)), claim_)
    assert created

    again, created_again = await store.create(make_job(job_id(2)), claim_)

    assert (again, created_again) == (first, False)
    with pytest.raises(JobNotFoundError):
        await store.get(job_id(2), tenant=None)


async def test_create_with_reused_key_and_other_body_raises(store: JobStore) -> None:
    await store.create(make_job(job_id(1)), IdempotencyClaim("key-1", "fp-a"))

    with pytest.raises(IdempotencyKeyReusedError):
        await store.create(make_job(job_id(2)), IdempotencyClaim("key-1", "fp-b"))

    assert (await store.count_by_status())[JobStatus.PENDING] == 1


async def test_create_concurrently_lands_every_job(store: JobStore) -> None:
    jobs = [make_job(job_id(n)) for n in range(500)]

    results = await asyncio.gather(*(store.create(job, None) for job in jobs))

    assert results == [(job, True) for job in jobs]
    page = await store.list_jobs(None, 1000, None, tenant=None)
    assert {job.job_id for job in page.jobs} == {job.job_id for job in jobs}
    assert (await store.count_by_status())[JobStatus.PENDING] == 500


async def test_create_concurrently_with_one_key_makes_one_job(store: JobStore) -> None:
    # Half the callers send the same body, half another one; whichever lands first
    # owns the key, its twins get its job, the others are refused.
    calls = [
        (make_job(job_id(n)), IdempotencyClaim("shared-key", f"fp-{n % 2}"))
        for n in range(40)
    ]

    results = await asyncio.gather(
        *(store.create(job, idem) for job, idem in calls), return_exceptions=True
    )

    winners = [r for r in results if isinstance(r, tuple) and r[1]]
    assert len(winners) == 1
    winner = winners[0][0]
    fingerprint = next(idem.fingerprint for job, idem in calls if job == winner)
    for (_, idem), result in zip(calls, results, strict=True):
        if idem.fingerprint == fingerprint:
            assert isinstance(result, tuple) and result[0] == winner
        else:
            assert isinstance(result, IdempotencyKeyReusedError)
    assert (await store.list_jobs(None, 100, None, tenant=None)).jobs == [winner]


# --- update: compare-and-set on version -------------------------------------------


async def test_update_with_expected_version_writes_job(store: JobStore) -> None:
    job, _ = await store.create(make_job(job_id(1)), None)

    claimed = await advance(store, job, Claim("w1", at(30)), at(1))

    assert await store.get(job.job_id, tenant=None) == claimed
    assert claimed.version == job.version + 1


async def test_update_with_stale_version_raises_and_changes_nothing(
    store: JobStore,
) -> None:
    job, _ = await store.create(make_job(job_id(1)), None)
    claimed = await advance(store, job, Claim("w1", at(30)), at(1))

    with pytest.raises(VersionConflictError):
        await advance(store, job, Cancel(), at(2))  # from the stale snapshot

    assert await store.get(job.job_id, tenant=None) == claimed


async def test_update_unknown_job_raises_job_not_found(store: JobStore) -> None:
    job = make_job(job_id(1))

    with pytest.raises(JobNotFoundError):
        await store.update(transition(job, Cancel(), at(1)), job.version)


async def test_update_concurrently_from_one_version_lets_one_win(
    store: JobStore,
) -> None:
    job, _ = await store.create(make_job(job_id(1)), None)
    rivals = [transition(job, Claim(f"w{n}", at(30)), at(1)) for n in range(20)]

    results = await asyncio.gather(
        *(store.update(new, job.version) for new in rivals), return_exceptions=True
    )

    won = [new for new, r in zip(rivals, results, strict=True) if r is None]
    assert len(won) == 1
    assert all(r is None or isinstance(r, VersionConflictError) for r in results)
    assert await store.get(job.job_id, tenant=None) == won[0]


# --- claim and leases -------------------------------------------------------------


async def test_claim_takes_due_pending_jobs_oldest_first(store: JobStore) -> None:
    later, first, tied, future, gone, taken = (make_job(job_id(n)) for n in range(6))
    for job in (
        attrs.evolve(later, available_at=at(5)),
        attrs.evolve(first, available_at=at(1)),
        attrs.evolve(tied, available_at=at(5)),  # same time, created after `later`
        attrs.evolve(future, available_at=at(11)),
    ):
        await store.create(job, None)
    cancelled, _ = await store.create(gone, None)
    await advance(store, cancelled, Cancel(), at(2))
    await store.create(taken, None)
    [processing] = await claim(store, "w0", at(0), limit=1)
    assert processing.job_id == taken.job_id  # available at T0, the earliest

    claimed = await claim(store, "w1", at(10), lease=30)

    assert [j.job_id for j in claimed] == [first.job_id, later.job_id, tied.job_id]
    for job in claimed:
        assert job.status is JobStatus.PROCESSING
        assert (job.lease_owner, job.lease_expires_at) == ("w1", at(40))
        assert (job.attempts, job.version) == (1, 2)
        assert await store.get(job.job_id, tenant=None) == job
    assert (await store.get(future.job_id, tenant=None)).status is JobStatus.PENDING
    assert [j.job_id for j in await claim(store, "w1", at(11))] == [future.job_id]


async def test_claim_respects_limit(store: JobStore) -> None:
    jobs = await create_jobs(store, 5)

    first = await claim(store, "w1", at(1), limit=2)
    rest = await claim(store, "w1", at(1), limit=10)

    assert [j.job_id for j in first] == [j.job_id for j in jobs[:2]]
    assert [j.job_id for j in rest] == [j.job_id for j in jobs[2:]]
    assert await claim(store, "w1", at(1), limit=10) == []


async def test_claim_concurrently_never_hands_out_a_job_twice(store: JobStore) -> None:
    jobs = await create_jobs(store, 100)
    owners = [f"w{n}" for n in range(10)]

    batches = await asyncio.gather(
        *(claim(store, owner, at(1), limit=15) for owner in owners)
    )

    taken = [job.job_id for batch in batches for job in batch]
    assert sorted(taken) == sorted(job.job_id for job in jobs)
    for owner, batch in zip(owners, batches, strict=True):
        assert len(batch) <= 15
        for job in batch:
            assert (await store.get(job.job_id, tenant=None)).lease_owner == owner


async def test_renew_leases_returns_only_ids_still_held(store: JobStore) -> None:
    await create_jobs(store, 4)
    mine = await claim(store, "w1", at(1), limit=2)
    [theirs] = await claim(store, "w2", at(1), limit=1)
    await advance(store, mine[1], Cancel(), at(2))
    ids = [job_id(n) for n in range(4)] + [job_id(99)]

    held = await store.renew_leases("w1", ids, at(500))

    assert held == {mine[0].job_id}
    assert (await store.get(mine[0].job_id, tenant=None)).lease_expires_at == at(500)
    assert await store.get(theirs.job_id, tenant=None) == theirs
    assert await store.renew_leases("w1", [], at(600)) == set()


async def test_expired_returns_processing_jobs_whose_lease_passed(
    store: JobStore,
) -> None:
    await create_jobs(store, 3)
    [short] = await claim(store, "w1", at(0), limit=1, lease=10)
    [long] = await claim(store, "w2", at(0), limit=1, lease=100)
    [done] = await claim(store, "w1", at(0), limit=1, lease=10)
    await advance(store, done, Cancel(), at(1))

    assert await store.expired(at(5), 10) == []
    assert await store.expired(at(50), 10) == [short]
    assert {j.job_id for j in await store.expired(at(500), 10)} == {
        short.job_id,
        long.job_id,
    }
    assert len(await store.expired(at(500), 1)) == 1
