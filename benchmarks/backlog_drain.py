"""Backlog drain: N jobs wait in the store, then workers start; how fast do they empty it?

Phase 1 submits N jobs to `vts serve --no-workers` (64 in flight) and stops it.
Phase 2 starts `vts serve` on the same SQLite file (VTS_SIM_DURATION=0) and times
until no job is pending or processing. Every claim runs against a large backlog here,
unlike the end-to-end benchmark where at most 64 jobs wait.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import aiohttp
from _harness import SEED_BODY, Server, add_vts_env_option
from _report import print_header, print_table

HEADERS = {"Content-Type": "application/json"}


async def submit(url: str, jobs: int, in_flight: int) -> None:
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector) as http:
        remaining = iter(range(jobs))

        async def one_lane() -> None:
            for _ in remaining:
                async with http.post(
                    f"{url}/translate", data=SEED_BODY, headers=HEADERS
                ) as reply:
                    assert reply.status == 202, await reply.text()

        await asyncio.gather(*(one_lane() for _ in range(in_flight)))


async def unfinished(url: str) -> int:
    async with aiohttp.ClientSession() as http:
        count = 0
        for status in ("pending", "processing"):
            async with http.get(
                f"{url}/jobs", params={"status": status, "limit": "1"}
            ) as reply:
                count += len((await reply.json())["jobs"])
        return count


async def drain_seconds(url: str, started: float) -> float:
    while await unfinished(url):
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def measure(jobs: int, extra_env: dict[str, str]) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="vts-backlog-") as tmp:
        env = {**extra_env, "VTS_DATABASE_URL": f"sqlite:///{tmp}/vts.db"}
        front = Server.vts(workers=False, extra_env=env).start()
        try:
            begun = time.monotonic()
            asyncio.run(submit(front.url, jobs, 64))
            submit_s = time.monotonic() - begun
        finally:
            front.close()
        started = time.monotonic()
        worker = Server.vts(extra_env=env).start()
        try:
            drain_s = asyncio.run(drain_seconds(worker.url, started))
        finally:
            worker.close()
    return {"jobs": jobs, "submit_s": submit_s, "drain_s": drain_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=1)
    add_vts_env_option(parser)
    args = parser.parse_args()
    print_header(f"backlog drain: {args.jobs:,} jobs waiting, then workers start")
    rows = []
    for run in range(1, args.repeat + 1):
        result = measure(args.jobs, dict(args.vts_env))
        rate = result["jobs"] / result["drain_s"]
        print(f"  run {run}: drained at {rate:,.0f} jobs/s", flush=True)
        rows.append([run, args.jobs, result["submit_s"], result["drain_s"], rate])
    print()
    print_table(["run", "jobs", "submit s", "drain s", "drained jobs/s"], rows)


if __name__ == "__main__":
    main()
