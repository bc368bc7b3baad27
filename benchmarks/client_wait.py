"""Client waits: TranslationClient's WebSocket push against fixed and backoff polling."""

from __future__ import annotations

import argparse
import asyncio
import random
import re
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import aiohttp
import orjson
from _harness import SEED_BODY, Server, add_vts_env_option
from _report import percentile, print_header, print_table
from translation_client import TranslationClient

HEADERS = {"Content-Type": "application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=30)
FINAL = frozenset({"completed", "failed", "cancelled"})
SHARES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))
STRATEGIES = {
    "push": "TranslationClient.wait_for_completion (one shared /ws/jobs)",
    "fixed": "GET /jobs/{id} every 1 s",
    "backoff": "GET /jobs/{id} after 0.1, 0.2, 0.4 ... 5 s (Retry-After ignored)",
    "backoff-ra": "as backoff, but the server's Retry-After wins",
}
GET_JOB = re.compile(
    r'^vts_http_requests_total\{method="GET",route="/jobs/\{job_id\}",'
    r'status="[0-9]+"\} ([0-9.e+]+)$',
    re.MULTILINE,
)

Waiter = Callable[[str], Awaitable[dict[str, Any]]]


def counting_session(
    counts: dict[str, int], name: str, headers: dict[str, str] | None = None
) -> aiohttp.ClientSession:
    """A session that counts every request it starts (WebSocket handshakes too)."""

    async def started(*_: object) -> None:
        counts[name] += 1

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(started)
    return aiohttp.ClientSession(
        timeout=TIMEOUT, headers=headers, trace_configs=[trace]
    )


def poller(
    session: aiohttp.ClientSession,
    base_url: str,
    *,
    first: float,
    cap: float,
    retry_after: bool,
) -> Waiter:
    """GET the job; while it is not final, sleep and GET again, doubling the sleep
    from `first` up to `cap` (fixed interval: first == cap)."""

    async def wait(job_id: str) -> dict[str, Any]:
        delay = first
        while True:
            async with session.get(f"{base_url}/jobs/{job_id}") as response:
                response.raise_for_status()
                job: dict[str, Any] = orjson.loads(await response.read())
                asked = response.headers.get("Retry-After")
            if job["status"] in FINAL:
                return job
            await asyncio.sleep(float(asked) if retry_after and asked else delay)
            delay = min(cap, delay * 2)

    return wait


def traced_client(base_url: str, counts: dict[str, int]) -> TranslationClient:
    client = TranslationClient(base_url)
    # The client opens its session lazily and takes no trace configs: hand it a
    # counting session with the same settings (a benchmark may reach inside).
    accept = {"Accept": "application/json, application/problem+json"}
    client._http._session = counting_session(counts, "push", accept)
    return client


async def get_job_requests(session: aiohttp.ClientSession, base_url: str) -> float:
    """The server's count of GET /jobs/{job_id} requests so far (all statuses)."""
    async with session.get(f"{base_url}/metrics") as response:
        text = await response.text()
    return sum(float(value) for value in GET_JOB.findall(text))


async def measure_once(
    server: Server, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    offsets = sorted(rng.uniform(0, args.window) for _ in range(args.jobs))
    names: list[str] = args.strategies
    counts = dict.fromkeys(names, 0)
    delays: dict[str, list[float]] = {name: [] for name in names}
    bad: list[str] = []
    submitter = aiohttp.ClientSession(timeout=TIMEOUT)
    sessions = [counting_session(counts, n) for n in names if n != "push"]
    by_name = dict(zip([n for n in names if n != "push"], sessions, strict=True))
    client = traced_client(server.url, counts) if "push" in names else None
    waiters: dict[str, Waiter] = {}
    for name, session in by_name.items():
        first, cap = (1.0, 1.0) if name == "fixed" else (0.1, 5.0)
        waiters[name] = poller(
            session, server.url, first=first, cap=cap, retry_after=name == "backoff-ra"
        )
    if client is not None:
        waiters["push"] = client.wait_for_completion
    try:
        before = await get_job_requests(submitter, server.url)

        async def one(index: int, at: float) -> None:
            name = names[index % len(names)]  # interleaved: equal load for each
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            url = f"{server.url}/translate"
            async with submitter.post(url, data=SEED_BODY, headers=HEADERS) as reply:
                job_id = orjson.loads(await reply.read())["job_id"]
            job = await waiters[name](job_id)
            returned = time.time()  # the clock first: parsing is not the wait
            if job["status"] != "completed":
                bad.append(f"{name} {job_id}: {job['status']}")
                return
            completed = datetime.fromisoformat(job["completed_at"]).timestamp()
            delays[name].append((returned - completed) * 1000)

        start = time.perf_counter() + 0.05
        await asyncio.wait_for(
            asyncio.gather(*(one(i, start + o) for i, o in enumerate(offsets))),
            timeout=args.timeout,
        )
        server_gets = await get_job_requests(submitter, server.url) - before
        hub = client._hub if client is not None else None
        ws_connections = hub.connections_opened if hub is not None else 0
    finally:
        if client is not None:
            await client.close()
        for session in [submitter, *sessions]:
            await session.close()
    # The server does not count WebSocket handshakes: leave them out here too.
    client_gets = counts.get("push", 0) - ws_connections
    pollers_gets = sum(counts[n] for n in names if n != "push")
    return {
        "delays": delays,
        "counts": counts,
        "bad": bad,
        "server_gets": server_gets,
        "our_gets": client_gets + pollers_gets,
        "ws_connections": ws_connections,
    }


def stats(delays: list[float], requests: int) -> dict[str, Any]:
    ordered = sorted(delays)
    row = {name: percentile(ordered, share) for name, share in SHARES}
    row["jobs"] = len(ordered)
    row["requests"] = requests
    row["per_job"] = requests / len(ordered) if ordered else float("nan")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200, help="jobs per run, total")
    parser.add_argument("--window", type=float, default=2.0, help="submit spread, s")
    parser.add_argument("--duration", default="0.5-5", help="VTS_SIM_DURATION")
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2, help="runs (one server each)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=120.0, help="per run, s")
    parser.add_argument(
        "--strategies",
        nargs="+",
        choices=list(STRATEGIES),
        default=["push", "fixed", "backoff"],
    )
    add_vts_env_option(parser)
    args = parser.parse_args()
    print_header(
        f"client waits: {args.jobs} jobs of {args.duration} s submitted at random "
        f"over {args.window:g} s, shared round-robin by " + ", ".join(args.strategies)
    )
    for name in args.strategies:
        print(f"  {name}: {STRATEGIES[name]}")
    print()
    rows, pooled = (
        [],
        {n: SimpleNamespace(delays=[], requests=0) for n in args.strategies},
    )
    for run in range(1, args.repeat + 1):
        server = Server.vts(
            sim_duration=args.duration,
            concurrency=args.concurrency,
            extra_env=dict(args.vts_env),
        )
        with server:
            result = asyncio.run(measure_once(server, args, args.seed + run))
        for problem in result["bad"]:
            print(f"  run {run}: not completed: {problem}")
        print(
            f"  run {run}: GET /jobs/{{id}} counted by the server "
            f"{result['server_gets']:.0f}, by the clients {result['our_gets']}; "
            f"WebSocket connections the client opened: {result['ws_connections']}",
            flush=True,
        )
        for name in args.strategies:
            row = stats(result["delays"][name], result["counts"][name])
            rows.append([name, run, *_cells(row)])
            pooled[name].delays += result["delays"][name]
            pooled[name].requests += result["counts"][name]
    print()
    print_table(["strategy", "run", *_HEADERS], rows)
    print()
    summary = {n: stats(p.delays, p.requests) for n, p in pooled.items()}
    print_table(
        ["strategy", "runs", *_HEADERS],
        [[n, args.repeat, *_cells(row)] for n, row in summary.items()],
    )
    if "push" in summary:
        push = summary["push"]
        print()
        print_table(
            ["strategy / push", "p50 delay", "p99 delay", "requests per job"],
            [
                [
                    name,
                    _times(row["p50"], push["p50"]),
                    _times(row["p99"], push["p99"]),
                    _times(row["per_job"], push["per_job"]),
                ]
                for name, row in summary.items()
                if name != "push"
            ],
        )
    print(
        "\ndelay = the waiter returned - the job's completed_at; completed_at has "
        "millisecond precision (cut), so delays read 0-1 ms high. push requests = "
        "the WebSocket handshake(s) plus any GET, shared by all its jobs."
    )


_HEADERS = [
    "jobs",
    *(f"{name} ms" for name, _ in SHARES),
    "requests",
    "requests/job",
]


def _cells(row: dict[str, Any]) -> list[object]:
    return [
        row["jobs"],
        *(row[name] for name, _ in SHARES),
        row["requests"],
        f"{row['per_job']:.3f}",
    ]


def _times(value: float, base: float) -> str:
    return f"{value / base:,.0f}x" if base else "n/a"


if __name__ == "__main__":
    main()
