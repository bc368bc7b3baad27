"""A drain never strands a job: jobs claimed as it begins are handed back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import pytest
from _support import instant_settings, opened_service

from vts.domain import Job, JobStatus
from vts.ports import JobStore
from vts.service import JobRequest, JobService
from vts.snapshot import Snapshot
from vts.worker.pool import WorkerPool

REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})


class HeldClaimStore:
    """The real store; its first claim that takes jobs commits, then waits for
    `release` before it returns (as a claim does whose answer is still on its way)."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.claimed = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def claim(
        self, now: datetime, limit: int, claim: Callable[[Job], Job]
    ) -> list[tuple[Job, Snapshot]]:
        jobs = await self._store.claim(now, limit, claim)
        if jobs and not self.claimed.is_set():
            self.claimed.set()
            await self.release.wait()
        return jobs


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[JobService]:
    settings = instant_settings(tmp_path / "vts.db")
    async with opened_service(settings, HeldClaimStore, announcing=True) as service:
        yield service


class NeverRuns:
    """A processor the test expects never to be called."""

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job, report: object) -> dict[str, str]:
        raise AssertionError(f"job {job.job_id} ran after the drain began")


async def test_a_drain_releases_the_jobs_of_a_claim_in_flight(
    service: JobService,
) -> None:
    store: HeldClaimStore = service.store  # type: ignore[assignment]
    ids = [(await service.submit(REQUEST))[0].job_id for _ in range(5)]
    pool = WorkerPool(
        service,
        NeverRuns(),
        owner="draining",
        concurrency=8,
        lease_seconds=30,
        progress_interval=0.0,
    )
    await pool.start()
    await asyncio.wait_for(store.claimed.wait(), 10)
    held = [await service.get(job_id, tenant=None) for job_id in ids]
    assert {job.status for job in held} == {JobStatus.PROCESSING}
    # The claim answers once the drain has begun (its first step cancels claiming).
    asyncio.get_running_loop().call_soon(store.release.set)
    await asyncio.wait_for(pool.drain(0), 10)
    for job_id in ids:
        job = await service.get(job_id, tenant=None)
        assert job.status is JobStatus.PENDING, job
        assert job.lease_owner is None
        assert job.attempts == 0, "a released claim uses no attempt"
