"""The soak's reads at the end, through the API: wait for the store to hold no
unfinished job, read every job back, and look for replicas serving stale jobs."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
import orjson
from _soak_load import REQUEST_TIMEOUT


async def get_jobs(
    session: aiohttp.ClientSession, url: str, ids: Sequence[str]
) -> dict[str, dict[str, Any] | None]:
    """GET each job on `url`, 16 at a time: the job, or None for a 404 (a job that
    could not be read at all is left out)."""
    gate = asyncio.Semaphore(16)
    found: dict[str, dict[str, Any] | None] = {}

    async def one(job_id: str) -> None:
        async with gate:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with session.get(
                    f"{url}/jobs/{job_id}", timeout=REQUEST_TIMEOUT
                ) as response:
                    payload = await response.read()
                    if response.status == 200:
                        found[job_id] = orjson.loads(payload)
                    elif response.status == 404:
                        found[job_id] = None

    await asyncio.gather(*(one(job_id) for job_id in ids))
    return found


async def _page(
    session: aiohttp.ClientSession, url: str, params: dict[str, str]
) -> dict[str, Any]:
    for attempt in range(5):
        try:
            async with session.get(
                f"{url}/jobs", params=params, timeout=REQUEST_TIMEOUT
            ) as response:
                response.raise_for_status()
                page: dict[str, Any] = orjson.loads(await response.read())
                return page
        except (aiohttp.ClientError, TimeoutError):
            if attempt == 4:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


async def not_final_in_store(session: aiohttp.ClientSession, url: str) -> int:
    """Pending plus processing jobs in the store (GET /jobs reads the store), up to
    100 of each."""
    count = 0
    for status in ("pending", "processing"):
        page = await _page(session, url, {"status": status, "limit": "100"})
        count += len(page["jobs"])
    return count


async def list_jobs(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Every stored job (GET /jobs, page by page), by job id."""
    jobs: dict[str, Any] = {}
    params = {"limit": "100"}
    while True:
        page = await _page(session, url, params)
        jobs.update((job["job_id"], job) for job in page["jobs"])
        if not page.get("next_cursor"):
            return jobs
        params = {"limit": "100", "cursor": page["next_cursor"]}


async def drain(session: aiohttp.ClientSession, url: str, timeout: float) -> float:
    """Wait until the store holds no pending or processing job (the database is the
    soak's own), or `timeout`; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not await not_final_in_store(session, url):
            break
        await asyncio.sleep(1.0)
    return time.monotonic() - start


async def stale_reads(
    session: aiohttp.ClientSession,
    urls: list[str],
    ids: list[str],
    stored: dict[str, Any],
) -> list[str]:
    """GET each job whose final status the watcher missed on every replica: one that
    answers another status than the store's serves a stale snapshot."""
    stale = []
    for index, url in enumerate(urls):
        for job_id, job in (await get_jobs(session, url, ids)).items():
            status = "404" if job is None else job["status"]
            if status != stored[job_id]["status"]:
                stale.append(
                    f"{job_id}: r{index + 1} says {status}, store {stored[job_id]['status']}"
                )
    return stale
