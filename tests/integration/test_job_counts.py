"""/metrics counts jobs by status with a store scan; scrapers cannot multiply it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest
from _support import opened_service

from vts import reads as reads_module
from vts.config import Settings
from vts.domain import JobStatus
from vts.ports import JobStore
from vts.service import JobRequest, JobService

REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})


class CountedStore:
    """The real store, with its count_by_status calls counted."""

    def __init__(self, store: JobStore) -> None:
        self._store = store
        self.counts = 0

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    async def count_by_status(
        self, tenant: str | None = None
    ) -> Mapping[JobStatus, int]:
        self.counts += 1
        return await self._store.count_by_status(tenant)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[JobService]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'vts.db'}")
    async with opened_service(settings, CountedStore) as service:
        yield service


async def test_concurrent_scrapes_share_one_count(service: JobService) -> None:
    await service.submit(REQUEST)
    answers = await asyncio.gather(*(service.job_counts() for _ in range(20)))
    assert service.store.counts == 1  # type: ignore[attr-defined]
    assert all(answer[JobStatus.PENDING] == 1 for answer in answers)


async def test_a_count_older_than_the_max_age_is_taken_again(
    service: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await service.job_counts())[JobStatus.PENDING] == 0
    await service.submit(REQUEST)
    assert (await service.job_counts())[JobStatus.PENDING] == 0, "still fresh"
    monkeypatch.setattr(reads_module, "COUNTS_MAX_AGE", 0.0)
    assert (await service.job_counts())[JobStatus.PENDING] == 1
    assert service.store.counts == 2  # type: ignore[attr-defined]
