"""arq and SAQ workers and load clients for benchmarks/peers.py (runs in the peer venv)."""

# This file runs with the benchmark's own virtualenv, which has the latest arq and SAQ:
#   python3 -m venv /work/bench-venv
#   /work/bench-venv/bin/pip install arq saq aiohttp orjson hiredis
# peers.py, e2e_throughput.py and notify_latency.py (through _peer_targets.py) start
# it as `worker KIND` (one process, runs jobs until SIGTERM; prints "ready" once it
# is connected) and as `client KIND throughput|latency` (prints one JSON line with
# the results). Nothing here is tuned beyond the options given: the
# job functions, the enqueue calls and the waits are each library's documented ones.

from __future__ import annotations

import argparse
import asyncio
import random
import resource
import sys
import time
from typing import Any

import orjson

# --- the jobs ------------------------------------------------------------------------


async def noop(ctx: Any) -> None:
    """The no-op job of the throughput run."""


async def sleeper(ctx: Any, seconds: float) -> float:
    """The latency run's job: sleep, then return the moment it finished (time.time())."""
    await asyncio.sleep(seconds)
    return time.time()


async def _ready(ctx: Any) -> None:
    print("ready", flush=True)


# --- workers -------------------------------------------------------------------------


def run_arq_worker(args: argparse.Namespace) -> None:
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    worker = Worker(
        functions=[func(noop, name="noop"), func(sleeper, name="sleeper")],
        redis_settings=RedisSettings.from_dsn(args.redis),
        max_jobs=args.concurrency,
        poll_delay=args.arq_worker_poll,
        on_startup=_ready,
        handle_signals=True,
    )
    worker.run()


def run_saq_worker(args: argparse.Namespace) -> None:
    from saq import Queue, Worker

    async def main() -> None:
        queue = Queue.from_url(args.redis)
        worker = Worker(
            queue,
            functions=[noop, sleeper],
            concurrency=args.concurrency,
            startup=_ready,
        )
        await queue.connect()
        try:
            await worker.start()
        finally:
            await queue.disconnect()

    asyncio.run(main())


# --- clients -------------------------------------------------------------------------


class ArqClient:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.missed = 0  # arq polls: it cannot miss a completion

    async def __aenter__(self) -> ArqClient:
        from arq import create_pool
        from arq.connections import RedisSettings

        self.pool = await create_pool(RedisSettings.from_dsn(self.args.redis))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.pool.aclose()

    async def run(self, function: str, *args: Any) -> Any:
        """Enqueue and wait the arq way: poll for the result every `poll_delay` s."""
        job = await self.pool.enqueue_job(function, *args)
        assert job is not None
        return await job.result(poll_delay=self.args.arq_poll)


class SaqClient:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.missed = 0

    async def __aenter__(self) -> SaqClient:
        from saq import Queue

        self.queue = Queue.from_url(self.args.redis)
        await self.queue.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.queue.disconnect()

    async def run(self, function: str, *args: Any) -> Any:
        """`refresh`: enqueue, then job.refresh(until_complete=...), which listens on
        SAQ's pub/sub channel for the job; `apply`: queue.apply, which polls."""
        kwargs = {"seconds": args[0]} if args else {}
        if self.args.saq_wait == "apply":
            return await self.queue.apply(function, **kwargs)
        job = await self.queue.enqueue(function, **kwargs)
        assert job is not None
        while True:
            try:
                await job.refresh(until_complete=self.args.saq_until)
            except TimeoutError:
                # No completion notice within --saq-until s: SAQ reads the job, then
                # subscribes, and a notice published in between is lost. Count it
                # and look again (with until_complete=0 the wait would never end).
                self.missed += 1
                await job.refresh()
            if job.completed:
                return job.result


CLIENTS = {"arq": ArqClient, "saq": SaqClient}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def throughput(args: argparse.Namespace) -> dict[str, Any]:
    """`jobs` no-op jobs, `in_flight` at a time; first enqueue to last result."""
    async with CLIENTS[args.kind](args) as client:
        await client.run("noop")  # warm-up: connections, scripts, the worker's poll
        left = args.jobs
        done = 0

        async def lane() -> None:
            nonlocal left, done
            while left > 0:
                left -= 1
                await client.run("noop")
                done += 1

        cpu, started = _cpu(), time.perf_counter()
        await asyncio.gather(*(lane() for _ in range(args.in_flight)))
        seconds = time.perf_counter() - started
        return {
            "completed": done,
            "seconds": seconds,
            "jobs_s": done / seconds,
            "client_cpu": _cpu() - cpu,
            "missed": client.missed,
        }


async def latency(args: argparse.Namespace) -> dict[str, Any]:
    """`jobs` jobs of `duration` s at seeded random moments over `window` s; for each,
    when the waiting client knew minus when the job function returned."""
    rng = random.Random(args.seed)
    offsets = sorted(rng.uniform(0, args.window) for _ in range(args.jobs))
    async with CLIENTS[args.kind](args) as client:
        await client.run("sleeper", 0.0)  # warm-up
        latencies: list[float] = []

        async def one(at: float) -> None:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            finished = await client.run("sleeper", args.duration)
            latencies.append((time.time() - finished) * 1000)

        cpu = _cpu()
        start = time.perf_counter() + 0.05
        await asyncio.gather(*(one(start + offset) for offset in offsets))
        return {
            "latencies_ms": sorted(latencies),
            "client_cpu": _cpu() - cpu,
            "missed": client.missed,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["worker", "client"])
    parser.add_argument("kind", choices=sorted(CLIENTS))
    parser.add_argument("test", nargs="?", choices=["throughput", "latency"])
    parser.add_argument("--redis", required=True, help="redis://host:port/db")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--arq-worker-poll", type=float, default=0.5)
    parser.add_argument("--arq-poll", type=float, default=0.5)
    parser.add_argument("--saq-wait", choices=["refresh", "apply"], default="refresh")
    parser.add_argument(
        "--saq-until", type=float, default=1.0, help="job.refresh(until_complete=)"
    )
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.role == "worker":
        {"arq": run_arq_worker, "saq": run_saq_worker}[args.kind](args)
        return
    test = {"throughput": throughput, "latency": latency}[args.test]
    result = asyncio.run(test(args))
    sys.stdout.buffer.write(orjson.dumps(result) + b"\n")


if __name__ == "__main__":
    main()
