"""Job reads: memory first, then (with a Redis shared by replicas) the cache, then the
store; always the newest version. The in-process default writes nothing to its
fakeredis: memory and the store answer every read without a Redis round trip."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _servers import RedisServer
from _support import opened_store

from vts import registry
from vts.config import Settings
from vts.domain import Fail, JobError
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.metrics import Metrics
from vts.service import JobRequest, JobService
from vts.snapshot import Snapshot

REQUEST = JobRequest("en", "es", {"video_url": "https://example.com/video.mp4"})
HOT = 4


async def _service(settings: Settings) -> AsyncIterator[JobService]:
    """A service whose memory keeps only HOT snapshots; its announcer is not started,
    so each test decides when the broker is written (`announcer.flush()`)."""
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


@pytest.fixture
async def local(tmp_path: Path) -> AsyncIterator[JobService]:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'vts.db'}")
    async for service in _service(settings):
        yield service


@pytest.fixture
async def shared(
    tmp_path: Path, redis_server: RedisServer
) -> AsyncIterator[JobService]:
    redis_server.flushdb()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'vts.db'}", redis_url=redis_server.url
    )
    async for service in _service(settings):
        yield service


async def _assert_newest(service: JobService, job_ids: list[str]) -> None:
    for job_id in job_ids:
        newest = Snapshot.of(await service.store.get(job_id, tenant=None))
        assert await service.snapshot(job_id, tenant=None) == newest, job_id


def _counts(service: JobService) -> tuple[float | None, float | None]:
    """(cache hits, cache misses) as GET /metrics reports them."""
    registry = service.metrics.registry
    return (
        registry.get_sample_value("vts_cache_hits_total"),
        registry.get_sample_value("vts_cache_misses_total"),
    )


async def _redis_keys(service: JobService) -> list[bytes]:
    return await service.broker._client.keys("*")  # type: ignore[attr-defined,no-any-return]


async def test_in_process_reads_come_from_memory_then_the_store(
    local: JobService,
) -> None:
    ids = [(await local.submit(REQUEST))[0].job_id for _ in range(30)]
    for job_id in ids[:10]:
        await local.cancel(job_id, tenant=None)  # a newer version of a forgotten job
    await _assert_newest(local, ids)
    assert _counts(local) == (HOT, 30 - HOT), "memory, then the store"
    assert await local.announcer.flush()
    assert await _redis_keys(local) == [], "the in-process fakeredis is never written"


async def test_in_process_dead_letters_come_from_the_store(local: JobService) -> None:
    (job, _) = await local.submit(REQUEST)
    (claimed,) = await local.claim("worker", 1, 30)
    await local.advance(claimed, Fail(JobError("no-speech", "none", False)))
    assert await local.announcer.flush()
    [entry] = await local.dead_letters(10, tenant=None)
    assert entry == Snapshot.of(await local.store.get(job.job_id, tenant=None)).body
    assert await local.dead_letter_count() == 1
    assert await _redis_keys(local) == []


@pytest.mark.services
async def test_shared_reads_take_the_unflushed_then_the_cached_snapshots(
    shared: JobService,
) -> None:
    ids = [(await shared.submit(REQUEST))[0].job_id for _ in range(30)]
    for job_id in ids[:10]:
        await shared.cancel(job_id, tenant=None)
    # Not yet written to the cache: reads take the waiting snapshots.
    await _assert_newest(shared, ids)
    assert _counts(shared) == (30, 0)
    assert await shared.announcer.flush()
    await _assert_newest(shared, ids)
    assert _counts(shared) == (60, 0), "every read served without the store"
    assert len(await _redis_keys(shared)) == 30


@pytest.mark.services
async def test_a_cache_entry_that_is_not_a_snapshot_is_read_from_the_store(
    shared: JobService,
) -> None:
    ids = [(await shared.submit(REQUEST))[0].job_id for _ in range(HOT + 1)]
    assert await shared.announcer.flush()
    await shared.broker._client.hset(f"vts:job:{ids[0]}", "s", b"garbage")  # type: ignore[attr-defined]
    await _assert_newest(shared, ids[:1])
    assert _counts(shared) == (0, 1)
