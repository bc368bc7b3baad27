"""The notify-latency measurement shared by notify_latency.py and the scale-out
benchmarks: jobs submitted at random times over a window, each watched over one
`/ws/jobs` connection, and when each completion was seen."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import datetime

import aiohttp
import orjson
from _harness import SEED_BODY, Server

HEADERS = {"Content-Type": "application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=30)


class Watch:
    """What the watcher saw: per job, when it subscribed and when completion arrived."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.subscribed_at: dict[str, float] = {}
        self.received: dict[str, tuple[float, float]] = {}  # job -> (seen, completed)
        self.all_done = asyncio.Event()

    def saw(self, seen: float, raw: str | bytes) -> None:
        data = orjson.loads(raw)
        if data.get("status") != "completed" or data["job_id"] in self.received:
            return
        completed = datetime.fromisoformat(data["completed_at"]).timestamp()
        self.received[data["job_id"]] = (seen, completed)
        if len(self.received) >= self.jobs:
            self.all_done.set()

    def latencies_ms(self) -> tuple[list[float], int]:
        """Sorted latencies of pushed completions; and how many completed before
        their subscription reached the server (those arrived as snapshots, not
        pushes, and are left out)."""
        pushed, early = [], 0
        for job_id, (seen, completed) in self.received.items():
            # completed_at is cut to the millisecond: allow that much before.
            if completed + 0.001 < self.subscribed_at.get(job_id, 0.0):
                early += 1
                continue
            pushed.append((seen - completed) * 1000)
        return sorted(pushed), early


async def measure_once(server: Server, jobs: int, window: float, seed: int) -> Watch:
    watch = Watch(jobs)
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, window) for _ in range(jobs))
    url = f"{server.url}/translate"
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        ws = await session.ws_connect(f"{server.ws_url}/ws/jobs")

        async def watcher() -> None:
            async for msg in ws:
                # The clock first: parsing is the harness's time, not vts's.
                watch.saw(time.time(), msg.data)

        async def submit(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            async with session.post(url, data=SEED_BODY, headers=HEADERS) as response:
                job_id = orjson.loads(await response.read())["job_id"]
            watch.subscribed_at[job_id] = time.time()
            await ws.send_str(f'{{"type":"subscribe","job_ids":["{job_id}"]}}')

        reader = asyncio.create_task(watcher())
        start = time.perf_counter() + 0.05
        await asyncio.gather(*(submit(start + offset) for offset in offsets))
        try:
            await asyncio.wait_for(watch.all_done.wait(), timeout=30)
        except TimeoutError:
            print(f"  timed out: {len(watch.received)} of {jobs} completions seen")
        await ws.close()
        reader.cancel()
    return watch
