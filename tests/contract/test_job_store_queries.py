"""The JobStore contract, read side and schema: listing, counts, DLQ view, migrations."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import attrs
import pytest
from _support import T0, make_job, opened_store

from vts import registry
from vts.config import Settings
from vts.domain import (
    Cancel,
    Claim,
    Event,
    Fail,
    Job,
    JobError,
    JobStatus,
    Succeed,
    transition,
)
from vts.errors import JobNotFoundError, ValidationError
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore

PERMANENT = JobError("bad-video", "the video cannot be decoded", retryable=False)


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


async def create_jobs(store: JobStore, count: int) -> list[Job]:
    """`count` pending jobs, created one after the other (oldest first)."""
    return [(await store.create(make_job(job_id(n)), None))[0] for n in range(count)]


async def advance(store: JobStore, job: Job, event: Event, now: datetime) -> Job:
    new = transition(job, event, now)
    await store.update(new, job.version)
    return new


async def run_to(store: JobStore, job: Job, final: Event, now: datetime) -> Job:
    """Claim `job` (alone) and end its attempt with `final` at `now`."""
    claimed = await advance(store, job, Claim("w1", now + timedelta(seconds=30)), now)
    return await advance(store, claimed, final, now)


# --- dead letters -----------------------------------------------------------------


async def test_dead_letters_lists_failed_jobs_newest_first(store: JobStore) -> None:
    jobs = await create_jobs(store, 6)
    failed_at = {0: 1, 1: 3, 2: 2}  # job index -> second it failed at
    for n, second in failed_at.items():
        await run_to(store, jobs[n], Fail(PERMANENT), at(second))
    await run_to(store, jobs[3], Succeed({"ok": True}), at(4))
    await advance(store, jobs[4], Cancel(), at(5))

    dead = await store.dead_letters(10, tenant=None)

    assert [j.job_id for j in dead] == [job_id(1), job_id(2), job_id(0)]
    assert all(j.status is JobStatus.FAILED and j.error == PERMANENT for j in dead)
    assert [j.job_id for j in await store.dead_letters(2, tenant=None)] == [
        job_id(1),
        job_id(2),
    ]


# --- list_jobs --------------------------------------------------------------------


async def test_list_jobs_is_newest_first_and_filters_by_status(
    store: JobStore,
) -> None:
    jobs = await create_jobs(store, 6)
    for n in (1, 2, 4):
        await advance(store, jobs[n], Cancel(), at(n))

    everything = await store.list_jobs(None, 10, None, tenant=None)
    cancelled = await store.list_jobs(JobStatus.CANCELLED, 10, None, tenant=None)
    completed = await store.list_jobs(JobStatus.COMPLETED, 10, None, tenant=None)

    assert [j.job_id for j in everything.jobs] == [job_id(n) for n in range(5, -1, -1)]
    assert everything.next_cursor is None
    assert [j.job_id for j in cancelled.jobs] == [job_id(4), job_id(2), job_id(1)]
    assert all(j.status is JobStatus.CANCELLED for j in cancelled.jobs)
    assert (completed.jobs, completed.next_cursor) == ([], None)


async def pages(
    store: JobStore, status: JobStatus | None, size: int
) -> list[list[str]]:
    """Every page of a listing, following cursors to the end, as lists of ids."""
    result: list[list[str]] = []
    cursor: str | None = None
    while True:
        page = await store.list_jobs(status, size, cursor, tenant=None)
        result.append([job.job_id for job in page.jobs])
        if page.next_cursor is None:
            return result
        assert len(result) <= 100, "pagination does not end"
        cursor = page.next_cursor


@pytest.mark.parametrize("size", [1, 4, 5, 15, 16])
async def test_list_jobs_cursor_pages_visit_every_job_once(
    store: JobStore, size: int
) -> None:
    await create_jobs(store, 15)

    visited = await pages(store, None, size)

    assert [i for page in visited for i in page] == [
        job_id(n) for n in range(14, -1, -1)
    ]
    # Full pages except the last, which is not empty: a count divisible by the page
    # size ends without an extra empty page.
    assert len(visited) == -(-15 // size)
    assert all(len(page) == size for page in visited[:-1])
    assert visited[-1]


async def test_list_jobs_cursor_pages_keep_the_status_filter(
    store: JobStore,
) -> None:
    jobs = await create_jobs(store, 10)
    for n in range(0, 10, 2):
        await advance(store, jobs[n], Cancel(), at(n))

    visited = await pages(store, JobStatus.CANCELLED, 2)

    assert visited == [[job_id(8), job_id(6)], [job_id(4), job_id(2)], [job_id(0)]]


async def test_list_jobs_cursor_survives_new_jobs(store: JobStore) -> None:
    await create_jobs(store, 4)
    first = await store.list_jobs(None, 2, None, tenant=None)
    await store.create(make_job(job_id(99)), None)

    second = await store.list_jobs(None, 2, first.next_cursor, tenant=None)

    assert [j.job_id for j in second.jobs] == [job_id(1), job_id(0)]


@pytest.mark.parametrize("cursor", ["garbage", "", "////", "c2FmZQ", "s12"])
async def test_list_jobs_garbage_cursor_raises_validation_error(
    store: JobStore, cursor: str
) -> None:
    await create_jobs(store, 3)

    with pytest.raises(ValidationError):
        await store.list_jobs(None, 10, cursor, tenant=None)


# --- counts and scheduling --------------------------------------------------------


async def test_count_by_status_counts_every_status(store: JobStore) -> None:
    assert await store.count_by_status() == dict.fromkeys(JobStatus, 0)
    jobs = await create_jobs(store, 6)
    await run_to(store, jobs[0], Succeed({}), at(1))
    await run_to(store, jobs[1], Fail(PERMANENT), at(1))
    await advance(store, jobs[2], Claim("w1", at(30)), at(1))
    await advance(store, jobs[3], Cancel(), at(1))

    counts = await store.count_by_status()

    assert counts == {
        JobStatus.PENDING: 2,
        JobStatus.PROCESSING: 1,
        JobStatus.COMPLETED: 1,
        JobStatus.FAILED: 1,
        JobStatus.CANCELLED: 1,
    }


async def test_next_due_is_earliest_pending_availability(store: JobStore) -> None:
    assert await store.next_due() is None
    later, sooner, running = (make_job(job_id(n)) for n in range(3))
    for job, due in ((later, 30), (sooner, 10.5), (running, 1)):
        await store.create(attrs.evolve(job, available_at=at(due)), None)
    claimed = await store.claim(
        at(2), 10, lambda job: transition(job, Claim("w1", at(60)), at(2))
    )
    assert [job.job_id for job, _ in claimed] == [running.job_id]

    assert await store.next_due() == at(10.5)
    for job in (later, sooner):
        await advance(store, await store.get(job.job_id, tenant=None), Cancel(), at(3))
    assert await store.next_due() is None


# --- schema -----------------------------------------------------------------------


async def test_migrate_again_applies_nothing(store: JobStore) -> None:
    assert await store.migrate() == []
    assert await store.migrate() == []


async def test_store_reopened_keeps_schema_and_jobs(
    store: JobStore, store_settings: Settings
) -> None:
    jobs = await create_jobs(store, 3)
    cancelled = await advance(store, jobs[1], Cancel(), at(1))
    await store.close()

    reopened = registry.create_store(store_settings)
    await reopened.open()
    try:
        assert await reopened.migrate() == []
        assert [
            j.job_id
            for j in (await reopened.list_jobs(None, 10, None, tenant=None)).jobs
        ] == [
            job_id(2),
            job_id(1),
            job_id(0),
        ]
        assert await reopened.get(jobs[1].job_id, tenant=None) == cancelled
        again, created = await reopened.create(make_job(job_id(3)), None)
        assert created and await reopened.get(again.job_id, tenant=None) == again
    finally:
        await reopened.close()


async def test_migrate_raced_by_two_stores_applies_each_migration_once(
    store_settings: Settings,
) -> None:
    first = registry.create_store(store_settings)
    second = registry.create_store(store_settings)
    await first.open()
    try:
        await second.open()
        try:
            applied = await asyncio.gather(first.migrate(), second.migrate())
            assert not set(applied[0]) & set(applied[1])
            assert await second.migrate() == []
            job, created = await first.create(make_job(job_id(1)), None)
            assert created and await second.get(job.job_id, tenant=None) == job
        finally:
            await second.close()
    finally:
        await first.close()


# --- retention --------------------------------------------------------------------


async def test_purge_finished_deletes_only_final_jobs_finished_before_the_cut(
    store: JobStore,
) -> None:
    jobs = await create_jobs(store, 7)
    completed = await run_to(store, jobs[0], Succeed({"url": "u"}), at(10))
    failed = await run_to(store, jobs[1], Fail(PERMANENT, 0.0), at(20))
    cancelled = await advance(store, jobs[2], Cancel(), at(30))
    late = await run_to(store, jobs[3], Succeed({}), at(100))  # after the cut
    processing = await advance(store, jobs[4], Claim("w1", at(999)), at(5))
    # jobs[5] and jobs[6] stay pending.

    purged = await store.purge_finished(at(50), limit=100)

    assert sorted(purged) == sorted(
        [
            (completed.job_id, JobStatus.COMPLETED),
            (failed.job_id, JobStatus.FAILED),
            (cancelled.job_id, JobStatus.CANCELLED),
        ]
    )
    for gone in (completed, failed, cancelled):
        with pytest.raises(JobNotFoundError):
            await store.get(gone.job_id, tenant=None)
    assert await store.get(late.job_id, tenant=None) == late
    assert await store.get(processing.job_id, tenant=None) == processing
    assert {
        j.job_id for j in (await store.list_jobs(None, 10, None, tenant=None)).jobs
    } == {
        late.job_id,
        processing.job_id,
        jobs[5].job_id,
        jobs[6].job_id,
    }
    assert await store.dead_letters(10, tenant=None) == []
    counts = await store.count_by_status()
    assert counts[JobStatus.COMPLETED] == 1 and counts[JobStatus.FAILED] == 0
    assert await store.purge_finished(at(50), limit=100) == []


async def test_purge_finished_takes_the_oldest_first_up_to_the_limit(
    store: JobStore,
) -> None:
    jobs = await create_jobs(store, 5)
    # Finished in the reverse of their creation order.
    for n, job in enumerate(jobs):
        await run_to(store, job, Succeed({}), at(100 - n))

    first = await store.purge_finished(at(1000), limit=2)
    second = await store.purge_finished(at(1000), limit=2)
    rest = await store.purge_finished(at(1000), limit=2)

    # Which jobs go first is the contract; the order they are reported in is not.
    assert {i for i, _ in first} == {jobs[4].job_id, jobs[3].job_id}
    assert {i for i, _ in second} == {jobs[2].job_id, jobs[1].job_id}
    assert {i for i, _ in rest} == {jobs[0].job_id}


async def test_a_purged_idempotency_key_makes_a_new_job(store: JobStore) -> None:
    claim = IdempotencyClaim("key-1", "fp")
    first, _ = await store.create(make_job(job_id(1)), claim)
    await run_to(store, first, Succeed({}), at(1))
    await store.purge_finished(at(2), limit=10)

    again, created = await store.create(make_job(job_id(2)), claim)

    assert created and again.job_id == job_id(2)


async def test_two_stores_purging_at_once_delete_each_job_once(
    store: JobStore, store_settings: Settings
) -> None:
    """Every replica sweeps: two sweeps together delete each expired job once."""
    jobs = await create_jobs(store, 40)
    for n, job in enumerate(jobs):
        await run_to(store, job, Succeed({}), at(n))
    async with opened_store(store_settings) as other:
        first, second = await asyncio.gather(
            store.purge_finished(at(100), limit=25),
            other.purge_finished(at(100), limit=25),
        )
    ids = [job_id for job_id, _ in [*first, *second]]
    assert len(ids) == len(set(ids)) == 40
    assert set(ids) == {job.job_id for job in jobs}
