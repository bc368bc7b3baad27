"""TranslationClient at scale: 1,000 waits share one WebSocket and never poll."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from _process import VtsProcess
from prometheus_client.parser import text_string_to_metric_families
from translation_client import TranslationClient

pytestmark = pytest.mark.slow

VIDEO = {"video_url": "https://example.com/video.mp4"}
JOBS_SOCKETS = ("vts_websocket_connections", {"endpoint": "jobs"})
JOB_READS = ("vts_http_requests_total", {"method": "GET", "route": "/jobs/{job_id}"})


async def scrape(http: aiohttp.ClientSession, vts: VtsProcess, name: str) -> dict:
    """Every sample of metric family `name`: {frozenset(labels): value}."""
    async with http.get(f"{vts.url}/metrics") as response:
        assert response.status == 200
        text = await response.text()
    return {
        frozenset(sample.labels.items()): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


async def total(
    http: aiohttp.ClientSession, vts: VtsProcess, name: str, labels: dict[str, str]
) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    samples = await scrape(http, vts, name)
    wanted = set(labels.items())
    return sum(value for key, value in samples.items() if wanted <= key)


@pytest.fixture
async def vts(tmp_path: Path) -> AsyncIterator[VtsProcess]:
    env = {
        "VTS_SIM_DURATION": "0.2-0.5",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_CONCURRENCY": "100",
    }
    async with VtsProcess(tmp_path, env) as process:
        yield process
    assert not process.error_lines(), process.logs()


async def test_client_thousand_waits_share_one_websocket(
    vts: VtsProcess, http: aiohttp.ClientSession
) -> None:
    most_sockets = 0.0

    async def watch_gauge() -> None:
        nonlocal most_sockets
        while True:
            most_sockets = max(most_sockets, await total(http, vts, *JOBS_SOCKETS))
            await asyncio.sleep(0.05)

    sampler = asyncio.create_task(watch_gauge())
    try:
        async with TranslationClient(vts.url, timeout=60) as client:
            created = await asyncio.gather(
                *(client.start_translation("en", "es", VIDEO) for _ in range(1000))
            )
            ids = [job["job_id"] for job in created]
            assert len(set(ids)) == 1000
            jobs = await asyncio.gather(
                *(client.wait_for_completion(job_id, timeout=120) for job_id in ids)
            )
            assert client._hub is not None
            assert client._hub.connections_opened == 1
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
    assert [job["job_id"] for job in jobs] == ids
    assert {job["status"] for job in jobs} == {"completed"}
    assert most_sockets == 1, "the server saw exactly one /ws/jobs connection"


async def test_client_websocket_wait_never_polls(
    vts: VtsProcess, http: aiohttp.ClientSession
) -> None:
    async with TranslationClient(vts.url) as client:
        ids = [
            (await client.start_translation("en", "es", VIDEO))["job_id"]
            for _ in range(3)
        ]
        before = await total(http, vts, *JOB_READS)
        jobs = await asyncio.gather(*(client.wait_for_completion(i) for i in ids))
        async for update in client.watch(ids[0]):
            assert update == jobs[0]
        after = await total(http, vts, *JOB_READS)
        await client.get_job(ids[0])
        read = await total(http, vts, *JOB_READS)
    assert {job["status"] for job in jobs} == {"completed"}
    assert after == before, "no GET /jobs/{job_id} while waiting over WebSocket"
    assert read == after + 1, "the metric does count job reads"
