"""The runs of webhook_delivery.py: a receiver in this process, and one vts server
per run (burst, backlog or moderate); each returns a result row."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from _harness import SEED_BODY, Server, free_port, own_cpu_seconds
from _report import percentile
from aiohttp import web

HEADERS = {"Content-Type": "application/json"}
SHARES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))
WAIT_SECONDS = 300.0


class Receiver:
    """Records when each message arrived and its job's updated_at; answers 204."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, float]] = []  # (arrived, changed)
        self.expected = 0
        self.done = asyncio.Event()
        self.port = free_port()

    async def handle(self, request: web.Request) -> web.Response:
        payload = orjson.loads(await request.read())
        changed = datetime.fromisoformat(payload["data"]["updated_at"]).timestamp()
        self.arrivals.append((time.time(), changed))
        if self.expected and len(self.arrivals) >= self.expected:
            self.done.set()
        return web.Response(status=204)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@asynccontextmanager
async def receiving() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def run(
    mode: str,
    jobs: int,
    rate: float,
    env: dict[str, str],
    src: Path,
    profile: str | None = None,
) -> dict[str, Any]:
    """One run of `mode` on a fresh vts server from `src`: its row. `profile`: a
    file for cProfile's stats of the backlog's delivering server."""
    extra = {"VTS_WEBHOOK_ALLOW_PRIVATE": "true", **env}
    async with receiving() as receiver, aiohttp.ClientSession() as http:
        with Server.vts(extra_env=extra, src=src) as vts:
            if mode == "backlog":
                cpu, own = await backlog(http, vts, receiver, jobs, profile)
            else:
                events = ["*"] if mode == "burst" else ["job.completed"]
                await add_endpoint(http, vts, receiver, events)
                # burst: pending, processing, completed (no progress reports)
                receiver.expected = jobs * (3 if mode == "burst" else 1)
                cpu, own = vts.cpu_seconds(), own_cpu_seconds()
                await submit(http, vts.url, jobs, rate if mode == "moderate" else 0)
                await asyncio.wait_for(receiver.done.wait(), WAIT_SECONDS)
            cpu = vts.cpu_seconds() - cpu
            own = own_cpu_seconds() - own
    arrivals = receiver.arrivals
    span = arrivals[-1][0] - arrivals[0][0]
    row: dict[str, Any] = {"mode": mode, "jobs": jobs, "deliveries": len(arrivals)}
    row["per_s"] = len(arrivals) / span if span else float("nan")
    row["cpu_us"] = cpu * 1e6 / len(arrivals)
    row["own_us"] = own * 1e6 / len(arrivals)  # the receiver (and submissions)
    if mode != "backlog":  # there every change is older than the server measured
        latencies = sorted((a - c) * 1000 for a, c in arrivals)
        row |= {name: percentile(latencies, share) for name, share in SHARES}
    return row


async def backlog(
    http: aiohttp.ClientSession,
    vts: Server,
    receiver: Receiver,
    jobs: int,
    profile: str | None,
) -> tuple[float, float]:
    """Run the jobs with no endpoint, then restart vts with one that existed before
    them and its cursor at the log's start: what is measured is the dispatch and
    delivery of events already logged, with no job in the process. The CPU
    seconds of vts and of this process when vts answered again."""
    await submit(http, vts.url, jobs, 0)
    while await completed(http, vts.url) < jobs:
        await asyncio.sleep(0.2)
    await add_endpoint(http, vts, receiver, ["*"])  # made after every change
    vts.stop()
    assert vts.database_path is not None
    with sqlite3.connect(vts.database_path) as db:
        # As if the endpoint had been there first (the first endpoint skips the
        # log written before it: WebhookStore.create_endpoint).
        db.execute("UPDATE webhook_endpoints SET created_at = 0")
        db.execute("UPDATE webhook_cursor SET seq = 0")
        (receiver.expected,) = db.execute("SELECT count(*) FROM job_events").fetchone()
    db.close()
    if profile:  # the event loop's thread only (the SQLite writer's is not seen)
        vts.args[1:1] = ["-m", "cProfile", "-o", profile]
    vts.start()
    cpu, own = vts.cpu_seconds(), own_cpu_seconds()
    await asyncio.wait_for(receiver.done.wait(), WAIT_SECONDS)
    return cpu, own


async def add_endpoint(
    http: aiohttp.ClientSession, vts: Server, receiver: Receiver, events: list[str]
) -> None:
    hook = {"url": receiver.url, "events": events}
    async with http.post(f"{vts.url}/webhooks", json=hook) as reply:
        assert reply.status == 201, await reply.text()


async def completed(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(f"{url}/jobs/counts") as reply:
        count: int = (await reply.json())["counts"]["completed"]
        return count


async def submit(http: aiohttp.ClientSession, url: str, jobs: int, rate: float) -> None:
    """POST /translate `jobs` times: all at once (32 in flight), or `rate` a second."""
    limit = asyncio.Semaphore(32)
    start = time.monotonic()

    async def one() -> None:
        async with (
            limit,
            http.post(f"{url}/translate", data=SEED_BODY, headers=HEADERS) as r,
        ):
            assert r.status == 202, await r.text()

    tasks = []
    for n in range(jobs):
        tasks.append(asyncio.create_task(one()))
        if rate:
            await asyncio.sleep(max(0.0, start + (n + 1) / rate - time.monotonic()))
    await asyncio.gather(*tasks)
