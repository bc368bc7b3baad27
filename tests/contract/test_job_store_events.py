"""The JobStore contract, event log: every committed job version once, in commit
order, per tenant and per job, resumable after any seq, pruned by age."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from _support import FAR_FUTURE, T0, make_job

from vts import registry
from vts.config import Settings
from vts.domain import (
    Cancel,
    Claim,
    Event,
    Job,
    JobStatus,
    Progress,
    transition,
)
from vts.errors import VersionConflictError
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore
from vts.snapshot import Snapshot


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def advance(store: JobStore, job: Job, event: Event) -> Job:
    new = transition(job, event, T0 + timedelta(seconds=1))
    await store.update(new, job.version)
    return new


async def log_of(
    store: JobStore,
    tenant: str | None = None,
    job_ids: list[str] | None = None,
    after: int = 0,
) -> list[tuple[int, Snapshot]]:
    return await store.events_after(tenant, after, job_ids, 10_000)


def versions(events: list[tuple[int, Snapshot]]) -> list[tuple[str, int, JobStatus]]:
    return [(s.job_id, s.version, s.status) for _, s in events]


async def test_every_committed_change_is_logged_once_in_order(store: JobStore) -> None:
    assert await log_of(store) == []
    assert await store.oldest_event_seq() is None
    first, _ = await store.create(make_job(job_id(1)), None)
    second, _ = await store.create(make_job(job_id(2)), None)
    ((claimed, _),) = await store.claim(
        T0, 1, lambda job: transition(job, Claim("w", T0 + timedelta(seconds=30)), T0)
    )
    progressed = await advance(store, claimed, Progress(50, None))
    cancelled = await advance(store, second, Cancel())

    events = await log_of(store)
    stored = [first, second, claimed, progressed, cancelled]
    assert [s for _, s in events] == [Snapshot.of(job) for job in stored]
    seqs = [seq for seq, _ in events]
    assert seqs == sorted(set(seqs))
    assert await store.oldest_event_seq() == seqs[0]


async def test_rejected_writes_and_replayed_creates_log_nothing(
    store: JobStore,
) -> None:
    claim = IdempotencyClaim("k", "fp")
    job, _ = await store.create(make_job(job_id(1)), claim)
    again, created = await store.create(make_job(job_id(2)), claim)
    assert (again, created) == (job, False)
    await advance(store, job, Cancel())
    with pytest.raises(VersionConflictError):
        await store.update(transition(job, Cancel(), T0), job.version)
    assert await store.renew_leases("w", [job.job_id], T0) == set()
    assert versions(await log_of(store)) == [
        (job.job_id, 1, JobStatus.PENDING),
        (job.job_id, 2, JobStatus.CANCELLED),
    ]


async def test_one_batch_logs_each_job_in_version_order(store: JobStore) -> None:
    """Creates and updates queued together share a transaction; each job's versions
    are logged in order and every accepted update is its own event."""
    jobs = [make_job(job_id(n)) for n in range(20)]

    async def lifecycle(job: Job) -> None:
        await store.create(job, None)
        claimed = await advance(store, job, Claim("w", T0 + timedelta(seconds=30)))
        await advance(store, claimed, Cancel())

    await asyncio.gather(*(lifecycle(job) for job in jobs))
    events = await log_of(store)
    assert len(events) == 60
    for job in jobs:
        mine = [s.version for _, s in events if s.job_id == job.job_id]
        assert mine == [1, 2, 3]


async def test_tenants_see_only_their_own_and_job_ids_narrow(store: JobStore) -> None:
    a1, _ = await store.create(make_job(job_id(1), tenant="acme"), None)
    b1, _ = await store.create(make_job(job_id(2), tenant="globex"), None)
    a2, _ = await store.create(make_job(job_id(3), tenant="acme"), None)
    await advance(store, b1, Cancel())
    await advance(store, a1, Cancel())

    acme = await log_of(store, "acme")
    assert versions(acme) == [
        (a1.job_id, 1, JobStatus.PENDING),
        (a2.job_id, 1, JobStatus.PENDING),
        (a1.job_id, 2, JobStatus.CANCELLED),
    ]
    assert {s.tenant for _, s in await log_of(store, "globex")} == {"globex"}
    assert len(await log_of(store)) == 5
    assert versions(await log_of(store, None, [a1.job_id])) == [
        (a1.job_id, 1, JobStatus.PENDING),
        (a1.job_id, 2, JobStatus.CANCELLED),
    ]
    # A job of another tenant is not in this tenant's stream, even when named.
    assert await log_of(store, "acme", [b1.job_id]) == []
    assert versions(await log_of(store, "acme", [a2.job_id, b1.job_id])) == [
        (a2.job_id, 1, JobStatus.PENDING)
    ]
    assert await log_of(store, None, []) == []


async def test_pages_after_a_seq_resume_without_gap_or_duplicate(
    store: JobStore,
) -> None:
    for n in range(7):
        await store.create(make_job(job_id(n)), None)
    everything = await log_of(store)
    pages: list[tuple[int, Snapshot]] = []
    cursor = 0
    while page := await store.events_after(None, cursor, None, 3):
        assert len(page) <= 3
        pages += page
        cursor = page[-1][0]
    assert pages == everything
    assert await store.events_after(None, everything[3][0], None, 2) == everything[4:6]


async def test_log_survives_a_restart_and_seqs_are_never_reused(
    store: JobStore, store_settings: Settings
) -> None:
    for n in range(3):
        await store.create(make_job(job_id(n)), None)
    before = await log_of(store)
    assert await store.purge_events(FAR_FUTURE, 100) == 3
    assert await store.oldest_event_seq() is None
    await store.close()

    reopened = registry.create_store(store_settings)
    await reopened.open()
    try:
        await reopened.create(make_job(job_id(9)), None)
        (seq, snap), *rest = await log_of(reopened)
        assert rest == [] and snap.job_id == job_id(9)
        # Pruning the newest rows does not hand their seqs out again: a resume
        # token names one event, ever.
        assert seq > before[-1][0]
    finally:
        await reopened.close()


async def test_purge_events_deletes_the_oldest_before_the_cut(
    store: JobStore,
) -> None:
    for n in range(5):
        await store.create(make_job(job_id(n)), None)
    events = await log_of(store)
    assert await store.purge_events(datetime(2000, 1, 1, tzinfo=UTC), 100) == 0
    assert await store.purge_events(FAR_FUTURE, 2) == 2
    assert await log_of(store) == events[2:]
    assert await store.oldest_event_seq() == events[2][0]
    assert await store.purge_events(FAR_FUTURE, 100) == 3
    assert await log_of(store) == []


async def test_pruning_keeps_the_log_a_suffix_when_times_are_out_of_order(
    store: JobStore, store_settings: Settings
) -> None:
    """On Postgres an event's time is its transaction's start and its seq is taken
    at commit, so an older seq can carry a later time. Pruning never deletes past
    such a row: what is kept stays a suffix of the log, and a consumer whose cursor
    is at or above the oldest kept seq has missed nothing."""
    for n in range(4):
        await store.create(make_job(job_id(n)), None)
    events = await log_of(store)
    second = events[1][0]
    await _backdate_all_but(store_settings, second)  # only the 2nd is recent

    assert await store.purge_events(T0, 100) == 1
    assert await log_of(store) == events[1:]
    assert await store.oldest_event_seq() == second


async def _backdate_all_but(settings: Settings, seq: int) -> None:
    """Set every event's time to long ago, except `seq`'s (left at now)."""
    url = settings.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("UPDATE job_events SET created_at = 0 WHERE seq != ?", (seq,))
        return
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "UPDATE job_events SET created_at = '2000-01-01Z' WHERE seq != $1", seq
        )
    finally:
        await conn.close()
