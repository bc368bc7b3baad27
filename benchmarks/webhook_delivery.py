"""Webhook delivery: deliveries/s to a local receiver, and latency from a job change
to the receiver's 2xx (issue 12's goals: >= 1,000/s on one replica; p99 <= 50 ms
at moderate load).

`burst`: N jobs at once to an endpoint for every event type ("*", about three
messages a job): deliveries/s from the first to the last arrival. `moderate`: jobs
at a steady rate to an endpoint for job.completed: latency percentiles from the
job's `updated_at` to the receiver's answer (the same clock: one machine). The
receiver runs in this process; vts on SQLite with VTS_WEBHOOK_ALLOW_PRIVATE=true.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import datetime
from typing import Any

import aiohttp
import orjson
from _harness import SEED_BODY, Server, add_vts_env_option, free_port
from _report import goal_row, percentile, print_header, print_table
from aiohttp import web

GOAL_RATE = 1000.0
GOAL_P99_MS = 50.0
HEADERS = {"Content-Type": "application/json"}


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


async def run(mode: str, jobs: int, rate: float, env: dict[str, str]) -> list[Any]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", receiver.port).start()
    events = ["*"] if mode == "burst" else ["job.completed"]
    extra = {"VTS_WEBHOOK_ALLOW_PRIVATE": "true", **env}
    try:
        with Server.vts(extra_env=extra) as vts:
            async with aiohttp.ClientSession() as http:
                hook = {
                    "url": f"http://127.0.0.1:{receiver.port}/hook",
                    "events": events,
                }
                async with http.post(f"{vts.url}/webhooks", json=hook) as reply:
                    assert reply.status == 201, await reply.text()
                # pending, processing, completed (and progress reports, if any)
                receiver.expected = jobs * (3 if mode == "burst" else 1)
                await submit(http, vts.url, jobs, rate if mode == "moderate" else 0)
                await asyncio.wait_for(receiver.done.wait(), 300)
    finally:
        await runner.cleanup()
    arrivals = receiver.arrivals
    span = arrivals[-1][0] - arrivals[0][0]
    latencies = sorted((a - c) * 1000 for a, c in arrivals)
    per_second = len(arrivals) / span if span else float("nan")
    p99 = percentile(latencies, 0.99)
    return [mode, jobs, len(arrivals), per_second, *latency_cells(latencies), p99]


def latency_cells(latencies: list[float]) -> list[float]:
    return [percentile(latencies, share) for share in (0.5, 0.9, 0.99, 1.0)]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="burst jobs (2000)")
    parser.add_argument("--rate", type=float, default=100.0, help="moderate jobs/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="moderate length")
    add_vts_env_option(parser)
    args = parser.parse_args()
    env = dict(args.vts_env)
    print_header("Webhook delivery: throughput and change -> 2xx latency")
    rows = [
        asyncio.run(run("burst", args.jobs, 0, env)),
        asyncio.run(run("moderate", int(args.rate * args.seconds), args.rate, env)),
    ]
    print_table(
        ["mode", "jobs", "deliveries", "per s", "p50 ms", "p90 ms", "p99 ms", "max ms"],
        [row[:-1] for row in rows],
    )
    print()
    burst, moderate = rows
    print_table(
        ["run", "vts", "mode", "compared", "value", "goal", "result"],
        [
            goal_row(
                [1, "vts", "burst"],
                "deliveries/s",
                f"{burst[3]:,.0f}",
                f">= {GOAL_RATE:,.0f}",
                burst[3] >= GOAL_RATE,
            ),
            goal_row(
                [1, "vts", f"{args.rate:g} jobs/s"],
                "p99 change -> 2xx",
                f"{moderate[-1]:.1f} ms",
                f"<= {GOAL_P99_MS:g} ms",
                moderate[-1] <= GOAL_P99_MS,
            ),
        ],
    )


if __name__ == "__main__":
    main()
