"""Live event streams: how fast N GET /events streams on one vts process (SQLite)
all see the events of a batch of jobs.

Each run starts vts on a fresh SQLite file, opens N streams from now (a raw HTTP/1.0
socket each, counting `event: job` events in what arrives, so the client parses
little), then submits the jobs (32 in flight; the simulated processor takes no time,
so each job logs three events: pending, processing, completed) and times from the
first submission until every stream has every event. jobs/s = jobs / that time.

A/B in one invocation: `--vts-src LABEL=PATH` (repeatable, see _variants.py); the
variants alternate within each repeat and stream count, their order reversed every
other repeat, and the last table gives each ÷ the first, run by run:

    python benchmarks/event_streams.py --streams 1,20,100,500 --repeat 4 \
        --vts-src main=/tmp/sse-ab/main --vts-src shared=/tmp/sse-ab/bytes
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import time
from collections.abc import Sequence
from typing import Any

import aiohttp
from _harness import (
    SEED_BODY,
    Server,
    add_vts_env_option,
    own_cpu_seconds,
    raise_nofile,
)
from _report import print_header, print_table
from _variants import Variant, add_vts_src_option, describe, variants

EVENT = b"\nevent: job\n"
EVENTS_PER_JOB = 3
HEADERS = {"Content-Type": "application/json"}


class Stream(asyncio.Protocol):
    """One GET /events over HTTP/1.0 (no chunked framing: the body is the SSE text),
    counting job events; `done` is set once `expected` have arrived, or it ended."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.head = b""
        self.tail = b""
        self.open = asyncio.Event()
        self.done = asyncio.Event()
        self.done_at = 0.0
        self.failure = ""
        self.transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.open.is_set():
            self.head += data
            if b"\r\n\r\n" not in self.head:
                return
            status, _, data = self.head.partition(b"\r\n\r\n")
            self.open.set()
            if status.split(b" ", 2)[1] != b"200":
                self.failure = status.decode(errors="replace")
                assert self.transport is not None
                self.transport.close()
                return
        chunk = self.tail + data
        self.count += chunk.count(EVENT)
        self.tail = chunk[-(len(EVENT) - 1) :]
        if self.count >= self.expected and not self.done.is_set():
            self.done_at = time.perf_counter()
            self.done.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.is_set():
            self.failure = self.failure or f"ended after {self.count} events: {exc}"
            self.open.set()
            self.done.set()


async def open_stream(port: int, expected: int) -> tuple[asyncio.Transport, Stream]:
    loop = asyncio.get_running_loop()
    transport, stream = await loop.create_connection(
        lambda: Stream(expected), "127.0.0.1", port
    )
    transport.write(b"GET /events HTTP/1.0\r\nHost: vts\r\n\r\n")
    return transport, stream


async def submit(http: aiohttp.ClientSession, url: str, jobs: int) -> None:
    limit = asyncio.Semaphore(32)

    async def one() -> None:
        async with (
            limit,
            http.post(f"{url}/translate", data=SEED_BODY, headers=HEADERS) as r,
        ):
            assert r.status == 202, await r.text()

    await asyncio.gather(*(one() for _ in range(jobs)))


async def measure(vts: Server, streams: int, jobs: int) -> dict[str, Any]:
    expected = jobs * EVENTS_PER_JOB
    opened = [await open_stream(vts.port, expected) for _ in range(streams)]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.open.wait() for _, s in opened)), 60)
        assert not any(s.failure for _, s in opened), opened[0][1].failure
        cpu, own = vts.cpu_seconds(), own_cpu_seconds()
        start = time.perf_counter()
        async with aiohttp.ClientSession() as http:
            await submit(http, vts.url, jobs)
        waits = [s.done.wait() for _, s in opened]
        await asyncio.wait_for(asyncio.gather(*waits), 600)
        failures = {s.failure for _, s in opened if s.failure}
        assert not failures, failures
        span = max(s.done_at for _, s in opened) - start
        cpu, own = vts.cpu_seconds() - cpu, own_cpu_seconds() - own
    finally:
        for transport, _ in opened:
            transport.close()
    assert vts.database_path is not None
    with sqlite3.connect(f"file:{vts.database_path}?mode=ro", uri=True) as db:
        logged = db.execute("SELECT count(*) FROM job_events").fetchone()[0]
    assert logged == expected, f"{logged} events logged, {expected} expected"
    spans = sorted(s.done_at - start for _, s in opened)
    return {
        "jobs/s": jobs / span,
        "all s": span,
        "median s": statistics.median(spans),
        "server CPU µs/job": cpu / jobs * 1e6,
        "client CPU µs/job": own / jobs * 1e6,
    }


def run_one(variant: Variant, streams: int, jobs: int, env: dict[str, str]) -> Any:
    with Server.vts(src=variant.src, extra_env=env) as vts:
        return asyncio.run(measure(vts, streams, jobs))


def order(chosen: Sequence[Variant], run: int) -> list[Variant]:
    """A B C in odd runs, C B A in even ones: none always runs later."""
    return list(chosen) if run % 2 else list(reversed(chosen))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", default="1,20,100,500", help="stream counts")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=2)
    add_vts_src_option(parser)
    add_vts_env_option(parser)
    args = parser.parse_args()
    counts = [int(n) for n in args.streams.split(",")]
    chosen = variants(args)
    raise_nofile()
    print_header(f"Event streams: {args.jobs:,} jobs seen live", describe(chosen))
    columns = ["jobs/s", "all s", "median s", "server CPU µs/job", "client CPU µs/job"]
    rows: list[list[Any]] = []
    results: dict[tuple[int, int, str], dict[str, Any]] = {}
    for run in range(1, args.repeat + 1):
        for streams in counts:
            for variant in order(chosen, run):
                result = run_one(variant, streams, args.jobs, dict(args.vts_env))
                results[run, streams, variant.name] = result
                row = [run, streams, variant.name, *(result[c] for c in columns)]
                print("| " + " | ".join(_cell(v) for v in row) + " |", flush=True)
                rows.append(row)
    print()
    print_table(["run", "streams", "target", *columns], rows)
    if len(chosen) < 2:
        return
    base = chosen[0].name
    print()
    ratio_rows = []
    for variant in chosen[1:]:
        for streams in counts:
            pairs = [
                (results[run, streams, base], results[run, streams, variant.name])
                for run in range(1, args.repeat + 1)
            ]
            rate = [b["jobs/s"] / a["jobs/s"] for a, b in pairs]
            cpu = [b[columns[3]] / a[columns[3]] for a, b in pairs]
            ratio_rows.append(
                [
                    variant.name,
                    streams,
                    ", ".join(f"{r:.2f}" for r in rate),
                    f"{statistics.median(rate):.2f}",
                    ", ".join(f"{c:.2f}" for c in cpu),
                    f"{statistics.median(cpu):.2f}",
                ]
            )
    print_table(
        [
            f"target ÷ {base}",
            "streams",
            "jobs/s ratio per run",
            "median",
            "server CPU/job ratio per run",
            "median",
        ],
        ratio_rows,
    )


def _cell(value: object) -> str:
    return f"{value:,.2f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    main()
