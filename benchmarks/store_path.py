"""The durable write path alone: submit, claim and complete N jobs through JobService
on a fresh SQLite file, with no HTTP and no watcher. Reports the process CPU per job
(both threads: the event loop and the SQLite writer) and jobs/s.

CPU per job is steadier than throughput on a shared machine, so this is the A/B for
changes to what a job's three durable writes cost (e.g. the event log, issue 12):

    python benchmarks/store_path.py --repeat 5 \
        --vts-src main=/tmp/ab-main --vts-src log=/tmp/ab-log

Each run is its own process with the variant's source first on PYTHONPATH; variants
alternate within each repeat (A, B, A, B ...).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _report import print_header
from _variants import add_vts_src_option, describe, variants

CHILD = r"""
import asyncio, json, resource, sys, time
from datetime import timedelta
from vts import registry
from vts.config import Settings
from vts.domain import Succeed
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.metrics import Metrics
from vts.service import JobRequest, JobService

JOBS, IN_FLIGHT, DB = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]


def cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def worker(service, done):
    # Like the worker pool: claim what is due, finish each, until all are done.
    while len(done) < JOBS:
        claimed = await service.claim("bench", 16, 30)
        if not claimed:
            await asyncio.sleep(0.001)
            continue
        await asyncio.gather(
            *(service.advance(job, Succeed({"ok": True})) for job in claimed)
        )
        done.extend(claimed)


async def main():
    settings = Settings(database_url=f"sqlite:///{DB}", redis_url="fakeredis://")
    store = registry.create_store(settings)
    broker = registry.create_broker(settings)
    await store.open()
    await store.migrate()
    await broker.open()
    metrics = Metrics()
    service = JobService(
        store, broker, Announcer(EventHub(), broker, metrics, "bench"), metrics,
        max_attempts=3, max_lease_losses=5,
    )
    request = JobRequest("en", "es", {"video_url": "https://example.com/v.mp4"})
    done = []
    sem = asyncio.Semaphore(IN_FLIGHT)

    async def submit():
        async with sem:
            await service.submit(request)

    start_cpu, start = cpu(), time.perf_counter()
    await asyncio.gather(
        *(submit() for _ in range(JOBS)), *(worker(service, done) for _ in range(4))
    )
    wall, used = time.perf_counter() - start, cpu() - start_cpu
    await broker.close()
    await store.close()
    print(json.dumps({"jobs": len(done), "wall": wall, "cpu": used}))


asyncio.run(main())
"""


def run_once(src: Path, jobs: int, in_flight: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "PYTHONPATH": str(src)}
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(jobs), str(in_flight), f"{tmp}/s.db"],
            env=env,
            cwd=src,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    add_vts_src_option(parser)
    args = parser.parse_args()
    chosen = variants(args)
    title = f"store path: {args.jobs:,} jobs, {args.in_flight} in flight, SQLite"
    print_header(title, describe(chosen))
    rows: dict[str, list[tuple[float, float]]] = {v.name: [] for v in chosen}
    print("| run | target | jobs/s | CPU µs/job |")
    print("| --- | --- | --- | --- |")
    for run in range(1, args.repeat + 1):
        for variant in chosen:
            r = run_once(variant.src, args.jobs, args.in_flight)
            rate, cpu_us = r["jobs"] / r["wall"], r["cpu"] / r["jobs"] * 1e6
            rows[variant.name].append((rate, cpu_us))
            print(
                f"| {run} | {variant.name} | {rate:,.0f} | {cpu_us:,.0f} |", flush=True
            )
    if len(chosen) > 1:
        base = chosen[0].name
        print()
        print(f"| target ÷ {base} | median jobs/s ratio | median CPU/job ratio |")
        print("| --- | --- | --- |")
        for variant in chosen[1:]:
            pairs = zip(rows[base], rows[variant.name], strict=True)
            ratios = [(b[0] / a[0], b[1] / a[1]) for a, b in pairs]
            rate = statistics.median(r for r, _ in ratios)
            cpu = statistics.median(c for _, c in ratios)
            print(f"| {variant.name} | {rate:.3f} | {cpu:.3f} |")


if __name__ == "__main__":
    main()
