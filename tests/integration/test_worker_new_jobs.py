"""New jobs claimed as they are created: with a free slot and nothing waiting, a job
is stored already claimed by the local pool, in its creation's commit; with jobs
waiting it is created pending and claimed in turn; a draining pool takes none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from _support import instant_settings, opened_service, wait_until

from vts.domain import Job, JobStatus
from vts.ports import IdempotencyClaim, JobStore
from vts.service import JobRequest, JobService
from vts.snapshot import Snapshot
from vts.worker.pool import WorkerPool

REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})


class CountingStore:
    """The real store; records what each create stored and what each claim took."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.stored_claimed: list[str] = []
        self.claims: list[list[str]] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def create(
        self, job: Job, idem: IdempotencyClaim | None, claimed: Job | None = None
    ) -> tuple[Job, bool]:
        result = await self._store.create(job, idem, claimed)
        if claimed is not None and result[1]:
            self.stored_claimed.append(job.job_id)
        return result

    async def claim(
        self, now: datetime, limit: int, apply: Callable[[Job], Job]
    ) -> list[Job]:
        jobs = await self._store.claim(now, limit, apply)
        self.claims.append([job.job_id for job in jobs])
        return jobs


class Gate:
    """A processor whose attempts wait until released; records the order they ran."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.release = asyncio.Event()

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job, report: Any) -> dict[str, str]:
        self.started.append(job.job_id)
        await self.release.wait()
        return {"ok": "yes"}


class Recorder:
    tenant = None

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, JobStatus]] = []

    def push(self, snapshot: Snapshot, message: bytes) -> None:
        self.seen.append((snapshot.job_id, snapshot.version, snapshot.status))


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[JobService]:
    settings = instant_settings(tmp_path / "vts.db")
    async with opened_service(settings, CountingStore, announcing=True) as service:
        yield service


async def _pool(service: JobService, gate: Gate, concurrency: int) -> WorkerPool:
    pool = WorkerPool(
        service, gate, owner="local", concurrency=concurrency, lease_seconds=30
    )
    await pool.start()
    store: CountingStore = service.store  # type: ignore[assignment]
    # Its first claim finds nothing waiting: from then on it takes new jobs.
    await wait_until(lambda: [] in store.claims, message="the first empty claim")
    return pool


async def test_a_new_job_is_stored_claimed_and_watchers_see_both_versions(
    service: JobService,
) -> None:
    gate = Gate()
    pool = await _pool(service, gate, concurrency=2)
    store: CountingStore = service.store  # type: ignore[assignment]
    watcher = Recorder()
    service.watch_all(watcher)
    try:
        job, created = await service.submit(REQUEST)
        assert created and job.status is JobStatus.PENDING
        assert store.stored_claimed == [job.job_id]
        stored = await service.get(job.job_id, tenant=None)
        assert (stored.status, stored.version, stored.lease_owner) == (
            JobStatus.PROCESSING,
            2,
            "local",
        )
        assert watcher.seen[:2] == [
            (job.job_id, 1, JobStatus.PENDING),
            (job.job_id, 2, JobStatus.PROCESSING),
        ]
        await wait_until(lambda: gate.started == [job.job_id], message="it runs")
        assert all(job.job_id not in taken for taken in store.claims)
        gate.release.set()
        await wait_until(
            lambda: watcher.seen[-1] == (job.job_id, 3, JobStatus.COMPLETED),
            message="completed",
        )
    finally:
        gate.release.set()
        await pool.drain(5)


async def test_with_no_free_slot_new_jobs_wait_and_run_in_order(
    service: JobService,
) -> None:
    gate = Gate()
    pool = await _pool(service, gate, concurrency=1)
    store: CountingStore = service.store  # type: ignore[assignment]
    try:
        ids = [(await service.submit(REQUEST))[0].job_id for _ in range(4)]
        assert store.stored_claimed == ids[:1], "one slot: only the first is taken"
        await wait_until(lambda: gate.started == ids[:1], message="the first runs")
        gate.release.set()
        await wait_until(lambda: gate.started == ids, message="the rest, in order")
        for job_id in ids:
            await wait_until(
                lambda job_id=job_id: _status(service, job_id, JobStatus.COMPLETED),
                message=f"{job_id} completed",
            )
    finally:
        gate.release.set()
        await pool.drain(5)


async def test_a_draining_pool_takes_no_new_job(service: JobService) -> None:
    gate = Gate()
    pool = await _pool(service, gate, concurrency=2)
    store: CountingStore = service.store  # type: ignore[assignment]
    await pool.drain(0)
    job, _ = await service.submit(REQUEST)
    assert store.stored_claimed == []
    assert (await service.get(job.job_id, tenant=None)).status is JobStatus.PENDING
    assert gate.started == []


async def _status(service: JobService, job_id: str, status: JobStatus) -> bool:
    return (await service.get(job_id, tenant=None)).status is status
