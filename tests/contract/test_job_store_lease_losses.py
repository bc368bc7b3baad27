"""Lease losses in the store, on every backend: kept through claims and updates; and
in a store an older vts left behind (before they were counted) the migration adds
the column, old jobs read as having lost no lease, and writes keep body and column
in step."""

from __future__ import annotations

import contextlib
import itertools
import re
import sqlite3
from datetime import datetime, timedelta
from typing import Any

import orjson
import pytest
from _support import T0, make_job, opened_store

from vts.codec import job_to_record
from vts.config import Settings
from vts.domain import Claim, ExpireLease, Job, JobStatus, transition
from vts.ports import JobStore
from vts.stores import migrations
from vts.stores.sqlite import sqlite_path

LEASE_LOSSES_MIGRATION = "add_lease_losses"
RUNNING = "00000000-0000-4000-8000-00000000000a"
DONE = "00000000-0000-4000-8000-00000000000b"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def is_sqlite(settings: Settings) -> bool:
    return settings.database_url.startswith("sqlite:")


async def raw(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """`sql` (with `?` placeholders) run on the store's own database, as an older
    vts or an operator would; times are passed as each backend's columns hold them."""
    url = settings.database_url
    if is_sqlite(settings):
        values = [p.timestamp() if isinstance(p, datetime) else p for p in params]
        with contextlib.closing(sqlite3.connect(sqlite_path(url))) as conn, conn:
            return conn.execute(sql, values).fetchall()
    import asyncpg

    numbers = itertools.count(1)
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            re.sub(r"\?", lambda _: f"${next(numbers)}", sql), *params
        )
    finally:
        await conn.close()
    return [tuple(row) for row in rows]


def old_record(job: Job) -> str:
    """The JSON body an older vts wrote: no lease_losses in it."""
    record = orjson.loads(job_to_record(job))
    del record["lease_losses"]
    return orjson.dumps(record).decode()


async def insert_old(settings: Settings, job: Job) -> None:
    await raw(
        settings,
        "INSERT INTO jobs (job_id, status, version, available_at, lease_owner,"
        " lease_expires_at, completed_at, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        job.job_id,
        job.status.value,
        job.version,
        job.available_at,
        job.lease_owner,
        job.lease_expires_at,
        job.completed_at,
        old_record(job),
    )


async def test_store_upgraded_from_before_lease_losses_keeps_jobs_and_counts_them(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = migrations.load
    backend = "sqlite" if is_sqlite(store_settings) else "postgresql"
    (newest,) = [n for n, _ in every(backend) if n.endswith(LEASE_LOSSES_MIGRATION)]
    # The schema as the older vts migrated it: every migration before this one.
    with monkeypatch.context() as patch:
        patch.setattr(
            migrations, "load", lambda b: [m for m in every(b) if m[0] < newest]
        )
        async with opened_store(store_settings):
            pass
    # Its jobs: one running when it was killed, one completed.
    running = transition(make_job(RUNNING), Claim("old-worker", at(30)), at(0))
    done = make_job(
        DONE,
        status=JobStatus.COMPLETED,
        attempts=1,
        progress=100,
        result={"output_url": "https://example.com/out.mp4"},
        available_at=None,
        completed_at=at(5),
    )
    for job in (running, done):
        await insert_old(store_settings, job)

    async with opened_store(store_settings) as store:
        assert await store.migrate() == []  # opened_store applied the new one
        assert await store.get(RUNNING, tenant=None) == running
        assert (await store.get(DONE, tenant=None)).lease_losses == 0
        # The new vts reclaims the job the old one lost: no attempt used, one loss.
        (expired,) = await store.expired(at(31), 10)
        reclaimed = transition(expired, ExpireLease(5), at(31))
        await store.update(reclaimed, expired.version)
        got = await store.get(RUNNING, tenant=None)
        assert (got.status, got.attempts, got.lease_losses) == (
            JobStatus.PENDING,
            0,
            1,
        )
        # A new job carries its count from the start, in the column as in the body.
        fresh, _ = await store.create(make_job(lease_losses=2), None)
        assert (await store.get(fresh.job_id, tenant=None)).lease_losses == 2

    columns = await raw(store_settings, "SELECT job_id, lease_losses FROM jobs")
    assert dict(columns) == {RUNNING: 1, DONE: 0, fresh.job_id: 2}
    applied = await raw(store_settings, "SELECT name FROM schema_migrations")
    assert newest in {name for (name,) in applied}


async def test_lease_losses_survive_claims_and_updates(store: JobStore) -> None:
    job, _ = await store.create(make_job(max_attempts=1), None)
    for loss in range(1, 4):
        event = Claim("worker", at(loss * 60 + 30))
        ((claimed, _),) = await store.claim(
            at(loss * 60), 10, lambda j, e=event, n=loss: transition(j, e, at(n * 60))
        )
        assert claimed.lease_losses == loss - 1
        lost = transition(claimed, ExpireLease(3), at(loss * 60 + 31))
        await store.update(lost, claimed.version)
        assert await store.get(job.job_id, tenant=None) == lost
    final = await store.get(job.job_id, tenant=None)
    assert final.status is JobStatus.FAILED
    assert final.lease_losses == 3
    assert [j.job_id for j in await store.dead_letters(10, tenant=None)] == [job.job_id]
