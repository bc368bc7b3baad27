"""vts load for the issue-3 benchmarks: several replicas, one watcher, one client process."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from _harness import SEED_BODY, Server
from _notify_watch import measure_once
from _report import percentile

HEADERS = {"Content-Type": "application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=30)


@dataclass
class Endpoints:
    """Where the notify client POSTs (`url`) and where its watcher connects (`ws_url`)."""

    url: str
    ws_url: str


async def e2e_multiplexed(
    servers: list[Server], watch: Server, jobs: int, in_flight: int
) -> dict[str, Any]:
    """`jobs` no-op jobs, `in_flight` POSTs at a time spread round-robin over
    `servers` (lane i posts to servers[i % n]); one /ws/jobs?all=true watcher on
    `watch` counts distinct completions. First POST to last completion seen."""
    completed: set[str] = set()
    all_done = asyncio.Event()
    rejected = 0
    left = jobs
    last = 0.0

    async def lane(session: aiohttp.ClientSession, url: str) -> None:
        nonlocal left, rejected
        while left > 0:
            left -= 1
            async with session.post(url, data=SEED_BODY, headers=HEADERS) as response:
                await response.read()
                if response.status != 202:
                    rejected += 1

    async def watcher(ws: aiohttp.ClientWebSocketResponse) -> None:
        nonlocal last
        async for msg in ws:
            data = orjson.loads(msg.data)
            if data.get("status") == "completed":
                completed.add(data["job_id"])
                last = time.perf_counter()
                if len(completed) >= jobs - rejected:
                    all_done.set()

    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        ws = await session.ws_connect(f"{watch.ws_url}/ws/jobs?all=true")
        reader = asyncio.create_task(watcher(ws))
        urls = [f"{server.url}/translate" for server in servers]
        started = time.perf_counter()
        await asyncio.gather(
            *(lane(session, urls[i % len(urls)]) for i in range(in_flight))
        )
        try:
            await asyncio.wait_for(all_done.wait(), timeout=max(60.0, jobs / 50))
        except TimeoutError:
            print(
                f"  timed out: {len(completed)} of {jobs - rejected} completions seen"
            )
        await ws.close()
        reader.cancel()
    seconds = (last or time.perf_counter()) - started
    return {
        "completed": len(completed),
        "rejected": rejected,
        "seconds": seconds,
        "jobs_s": len(completed) / seconds if seconds > 0 else 0.0,
    }


def notify(
    post_to: Server, watch_on: Server, jobs: int, window: float, seed: int
) -> dict[str, Any]:
    """notify_latency.py's load: POST to `post_to`, subscribe on `watch_on`; latency
    = watcher received minus the job's completed_at (ms precision, cut)."""
    endpoints = Endpoints(url=post_to.url, ws_url=watch_on.ws_url)
    watch = asyncio.run(measure_once(endpoints, jobs, window, seed))  # type: ignore[arg-type]
    latencies, early = watch.latencies_ms()
    return {"latencies_ms": latencies, "early": early, "received": len(watch.received)}


SHARES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))


def quantiles(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {name: percentile(ordered, share) for name, share in SHARES}
