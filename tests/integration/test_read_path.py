"""Job reads on the zero-infra default: memory first, then the in-process cache (which
takes every snapshot memory forgets), then the store; always the newest version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _support import opened_store

from vts import registry
from vts.brokers import redis as redis_broker
from vts.codec import snapshot_bytes
from vts.config import Settings
from vts.events import EventHub
from vts.fanout import Announcer
from vts.metrics import Metrics
from vts.service import JobRequest, JobService

REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})
HOT = 4


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[JobService]:
    """A service whose memory keeps only HOT snapshots; its announcer is not started,
    so each test decides when the cache is written (`announcer.flush()`)."""
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'vts.db'}")
    broker = registry.create_broker(settings)
    async with opened_store(settings) as store:
        await broker.open()
        metrics = Metrics()
        announcer = Announcer(EventHub(hot_capacity=HOT), broker, metrics, "test")
        try:
            yield JobService(
                store, broker, announcer, metrics, max_attempts=3, max_lease_losses=5
            )
        finally:
            await broker.close()


async def _assert_newest(service: JobService, job_ids: list[str]) -> None:
    for job_id in job_ids:
        newest = snapshot_bytes(await service.store.get(job_id, tenant=None))
        assert await service.snapshot(job_id, tenant=None) == newest, job_id


def _counts(service: JobService) -> tuple[float | None, float | None]:
    """(cache hits, cache misses) as GET /metrics reports them."""
    registry = service.metrics.registry
    return (
        registry.get_sample_value("vts_cache_hits_total"),
        registry.get_sample_value("vts_cache_misses_total"),
    )


async def test_forgotten_snapshots_are_read_from_the_cache_newest_first(
    service: JobService,
) -> None:
    ids = [(await service.submit(REQUEST))[0].job_id for _ in range(30)]
    for job_id in ids[:10]:
        await service.cancel(
            job_id, tenant=None
        )  # a newer version of a job memory let go
    # Not yet written to the cache: reads take the waiting snapshots.
    await _assert_newest(service, ids)
    assert _counts(service) == (30, 0)
    assert await service.announcer.flush()
    await _assert_newest(service, ids)
    assert _counts(service) == (60, 0), "every read served without the store"


async def test_rotated_generations_fall_back_to_the_store_never_to_an_old_version(
    service: JobService, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(redis_broker, "FAKE_CACHE_GENERATION", 8)
    ids = [(await service.submit(REQUEST))[0].job_id for _ in range(40)]
    assert await service.announcer.flush()
    for job_id in ids[:20]:
        await service.cancel(job_id, tenant=None)
        assert await service.announcer.flush()  # one small write per change
    await _assert_newest(service, ids)
    hits, misses = _counts(service)
    assert hits is not None and misses is not None
    assert misses > 0, "the oldest generations were dropped: those reads hit the store"
    assert hits + misses == len(ids)
    # A store read does not go into the in-process cache beside newer snapshots.
    await _assert_newest(service, ids)
    assert _counts(service)[1] == 2 * misses
