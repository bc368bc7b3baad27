"""Idle watchers: server memory per open /ws/job/{id} connection that receives nothing."""

from __future__ import annotations

import argparse
import asyncio
import gc
import re
import time
import urllib.request
from typing import Any

import aiohttp
import orjson
from _harness import SEED_BODY, Server, add_vts_env_option, raise_nofile
from _report import print_header, print_table, ratio, runs_side_by_side

GOAL_KIB = 20.0
HANDSHAKES_AT_ONCE = 200
WARM_UP = 200
SETTLE_SECONDS = 2.0


async def _submit(
    session: aiohttp.ClientSession, server: Server, count: int
) -> list[str]:
    ids = []
    for _ in range(count):
        async with session.post(
            f"{server.url}/translate",
            data=SEED_BODY,
            headers={"Content-Type": "application/json"},
        ) as response:
            ids.append(orjson.loads(await response.read())["job_id"])
    return ids


async def _open_watchers(
    session: aiohttp.ClientSession, server: Server, job_ids: list[str], count: int
) -> tuple[list[aiohttp.ClientWebSocketResponse], list[asyncio.Task[None]]]:
    """Open `count` sockets round-robin over the jobs; each has had its first message."""
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    readers: list[asyncio.Task[None]] = []

    async def drain(ws: aiohttp.ClientWebSocketResponse) -> None:
        # Keep reading so the client answers the server's heartbeat pings.
        async for _ in ws:
            pass

    async def one(index: int) -> None:
        job_id = job_ids[index % len(job_ids)]
        async with gate:
            ws = await session.ws_connect(f"{server.ws_url}/ws/job/{job_id}")
            await ws.receive(timeout=30)  # the snapshot: the server side is set up
        sockets.append(ws)
        readers.append(asyncio.create_task(drain(ws)))

    await asyncio.gather(*(one(i) for i in range(count)))
    return sockets, readers


async def _close_all(
    sockets: list[aiohttp.ClientWebSocketResponse], readers: list[asyncio.Task[None]]
) -> None:
    for task in readers:
        task.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    gate = asyncio.Semaphore(HANDSHAKES_AT_ONCE)

    async def close(ws: aiohttp.ClientWebSocketResponse) -> None:
        async with gate:
            await ws.close()

    await asyncio.gather(*(close(ws) for ws in sockets))


def _open_sockets_metric(server: Server) -> int | None:
    try:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as reply:
            text = reply.read().decode()
    except OSError:
        return None
    match = re.search(
        r'^vts_websocket_connections\{endpoint="job"\} (\S+)$', text, re.M
    )
    return int(float(match[1])) if match else None


async def measure_once(server: Server, watchers: int, jobs: int) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        job_ids = await _submit(session, server, jobs)
        # Warm up: first use of every code path and allocator pool is not per watcher.
        await _close_all(*await _open_watchers(session, server, job_ids, WARM_UP))
        await asyncio.sleep(SETTLE_SECONDS)
        before = server.rss_kib()
        started = time.perf_counter()
        sockets, readers = await _open_watchers(session, server, job_ids, watchers)
        connect_seconds = time.perf_counter() - started
        await asyncio.sleep(SETTLE_SECONDS)
        after = server.rss_kib()
        reported = await asyncio.to_thread(_open_sockets_metric, server)
        await _close_all(sockets, readers)
        await asyncio.sleep(SETTLE_SECONDS)
        closed = server.rss_kib()
    return {
        "before": before,
        "after": after,
        "closed": closed,
        "per_watcher": (after - before) / watchers,
        "connect_seconds": connect_seconds,
        "reported": reported,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--watchers", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=8, help="jobs the watchers share")
    parser.add_argument("--repeat", type=int, default=2, help="runs per target")
    add_vts_env_option(parser)
    args = parser.parse_args()
    limit = raise_nofile()  # before the servers start: they inherit it
    if limit < args.watchers + 512:
        parser.error(f"RLIMIT_NOFILE hard limit {limit} is too low for the watchers")
    print_header(
        f"idle watchers: {args.watchers:,} /ws/job/{{id}} sockets on {args.jobs} jobs "
        f"(vts serve --no-workers: nothing changes, nothing is sent)"
    )
    results = []
    for run in range(1, args.repeat + 1):
        for target in ("trivial", "vts"):
            server = (
                Server.vts(workers=False, extra_env=dict(args.vts_env))
                if target == "vts"
                else Server.trivial()
            )
            with server:
                result = asyncio.run(measure_once(server, args.watchers, args.jobs))
            gc.collect()
            result.update(target=target, run=run)
            print(
                f"  {target:7} run {run}: {result['per_watcher']:.1f} KiB per watcher",
                flush=True,
            )
            results.append(result)
    print()
    print_table(
        [
            "target",
            "run",
            "RSS before MiB",
            "RSS with watchers MiB",
            "RSS after closing MiB",
            "KiB per watcher",
            "open (vts metric)",
            "connect s",
        ],
        [
            [
                r["target"],
                r["run"],
                r["before"] / 1024,
                r["after"] / 1024,
                r["closed"] / 1024,
                r["per_watcher"],
                "n/a" if r["reported"] is None else r["reported"],
                r["connect_seconds"],
            ]
            for r in results
        ],
    )
    print()
    summary = []
    for run, vts, ceiling in runs_side_by_side(results, args.repeat):
        summary.append(
            [
                run,
                vts["per_watcher"],
                ceiling["per_watcher"],
                ratio(vts["per_watcher"], ceiling["per_watcher"]),
                f"<= {GOAL_KIB:g} KiB",
                "met" if vts["per_watcher"] <= GOAL_KIB else "not met",
            ]
        )
    print_table(
        [
            "run",
            "vts KiB/watcher",
            "ceiling KiB/watcher",
            "vts / ceiling",
            "goal",
            "result",
        ],
        summary,
    )


if __name__ == "__main__":
    main()
