"""The end-to-end client loads of e2e_throughput.py: multiplexed and per-job."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import orjson
from _harness import SEED_BODY, Server

HEADERS = {"Content-Type": "application/json"}
# No request of a healthy run takes this long: fail fast and show where it hangs.
TIMEOUT = aiohttp.ClientTimeout(total=30)


class Run:
    """Counters of one run: first submit to last completion seen."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.submitted = 0
        self.rejected = 0
        self.completed: set[str] = set()
        self.started = 0.0
        self.last_completion = 0.0
        self.all_done = asyncio.Event()

    def complete(self, job_id: str) -> None:
        self.completed.add(job_id)
        self.last_completion = time.perf_counter()
        if len(self.completed) >= self.expected:
            self.all_done.set()

    @property
    def expected(self) -> int:
        return self.jobs - self.rejected

    @property
    def seconds(self) -> float:
        return self.last_completion - self.started


async def _submit(session: aiohttp.ClientSession, url: str, run: Run) -> str | None:
    async with session.post(url, data=SEED_BODY, headers=HEADERS) as response:
        body = await response.read()
        if response.status != 202:
            run.rejected += 1
            return None
    run.submitted += 1
    job_id: str = orjson.loads(body)["job_id"]
    return job_id


async def multiplexed(
    server: Server, jobs: int, in_flight: int, auth: dict[str, str]
) -> Run:
    """One /ws/jobs?all=true watcher counts completions; 64 submitters post."""
    run = Run(jobs)
    url = f"{server.url}/translate"
    next_job = 0

    async def submitter(session: aiohttp.ClientSession) -> None:
        nonlocal next_job
        while next_job < jobs:
            next_job += 1
            await _submit(session, url, run)

    async def watcher(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            data = orjson.loads(msg.data)
            if data.get("status") == "completed":
                run.complete(data["job_id"])

    # One connection slot for the watcher, `in_flight` for the submitters.
    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    async with aiohttp.ClientSession(
        connector=connector, timeout=TIMEOUT, headers=auth
    ) as session:
        ws = await session.ws_connect(f"{server.ws_url}/ws/jobs?all=true")
        reader = asyncio.create_task(watcher(ws))
        run.started = time.perf_counter()
        await asyncio.gather(*(submitter(session) for _ in range(in_flight)))
        await _wait_done(run)
        await ws.close()
        reader.cancel()
    return run


async def per_job(
    server: Server, jobs: int, in_flight: int, auth: dict[str, str]
) -> Run:
    """Each job: POST, then its own /ws/job/{id} socket until it reports completed."""
    run = Run(jobs)
    url = f"{server.url}/translate"
    next_job = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_job
        while next_job < jobs:
            next_job += 1
            job_id = await _submit(session, url, run)
            if job_id is None:
                continue
            async with session.ws_connect(f"{server.ws_url}/ws/job/{job_id}") as ws:
                async for msg in ws:
                    if orjson.loads(msg.data).get("status") == "completed":
                        run.complete(job_id)
                        break

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(
        connector=connector, timeout=TIMEOUT, headers=auth
    ) as session:
        run.started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(in_flight)))
        await _wait_done(run)
    return run


async def _wait_done(run: Run) -> None:
    if len(run.completed) >= run.expected:
        return
    try:
        await asyncio.wait_for(run.all_done.wait(), timeout=max(60.0, run.jobs / 50))
    except TimeoutError:
        print(f"  timed out: {len(run.completed)} of {run.expected} completions seen")


MODES = {"multiplexed": multiplexed, "per-job": per_job}
