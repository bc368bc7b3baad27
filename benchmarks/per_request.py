"""What vts adds per request and per WebSocket: server CPU per POST /translate and
per /ws/job/{id} open, vts (`serve --no-workers`) beside the trivial aiohttp app.

Each run starts every server fresh, warms it up, then measures two phases:
- POST: `--ops` POSTs of the seed body over keep-alive connections, `--in-flight`
  at a time;
- WS: one `/ws/job/{id}` per job just created, each on a new connection: open,
  read the first message (vts: the pending snapshot; trivial: the completed
  message), close.
Server CPU comes from /proc (user + system, every thread). With `--vts NAME=DIR`
(repeatable) each named snapshot of vts/ runs in the same invocation (an A/B); the
servers of a run take turns in a rotated order, so none is always the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from _harness import CLOCK_TICKS, SEED_BODY, Server, profiled, raise_nofile
from _report import print_header, print_table

TIMEOUT = aiohttp.ClientTimeout(total=60)
HEADERS = {"Content-Type": "application/json"}


async def _posts(server: Server, count: int, in_flight: int) -> list[str]:
    ids: list[str] = []
    todo = iter(range(count))
    url = f"{server.url}/translate"
    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:

        async def worker() -> None:
            for _ in todo:
                async with session.post(url, data=SEED_BODY, headers=HEADERS) as reply:
                    assert reply.status == 202, await reply.text()
                    ids.append(orjson.loads(await reply.read())["job_id"])

        await asyncio.gather(*(worker() for _ in range(in_flight)))
    return ids


async def _sockets(server: Server, ids: list[str], in_flight: int) -> None:
    queue = iter(ids)
    connector = aiohttp.TCPConnector(limit=in_flight, force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:

        async def worker() -> None:
            for job_id in queue:
                async with session.ws_connect(f"{server.ws_url}/ws/job/{job_id}") as ws:
                    msg = await ws.receive()
                    assert msg.type is aiohttp.WSMsgType.TEXT, msg

        await asyncio.gather(*(worker() for _ in range(in_flight)))


def _phase(
    server: Server,
    action: Callable[[], Any],
    count: int,
    profile: str | None,
    rate: int,
) -> tuple[float, float, Any]:
    """(server CPU µs per operation: user + system, user; the action's result)."""
    before, user_before = server.cpu_seconds(), _user_seconds(server)
    with profiled(server.pid, profile, rate):
        result = asyncio.run(action())
    total = (server.cpu_seconds() - before) / count * 1e6
    user = (_user_seconds(server) - user_before) / count * 1e6
    return total, user, result


def _user_seconds(server: Server) -> float:
    """User CPU only: the kernel's share (TCP set-up and teardown on loopback, and
    softirq work billed to whoever runs) is the same for every server and noisier."""
    with open(f"/proc/{server.pid}/stat") as stat:
        return int(stat.read().rsplit(")", 1)[1].split()[11]) / CLOCK_TICKS


def measure(
    name: str, src: Path | None, args: argparse.Namespace, run: int
) -> dict[str, Any]:
    server = Server.trivial() if src is None else Server.vts(workers=False, src=src)
    with server:
        warm = asyncio.run(_posts(server, args.warmup, args.in_flight))
        asyncio.run(_sockets(server, warm, args.in_flight))
        ops = args.ops
        prefix = f"{args.profile}-{name}-{run}" if args.profile and src else None
        post_us, post_user, ids = _phase(
            server,
            lambda: _posts(server, ops, args.in_flight),
            ops,
            prefix and f"{prefix}-post.txt",
            args.profile_rate,
        )
        ws_us, ws_user, _ = _phase(
            server,
            lambda: _sockets(server, ids, args.in_flight),
            ops,
            prefix and f"{prefix}-ws.txt",
            args.profile_rate,
        )
    return {
        "target": name,
        "run": run,
        "post_us": post_us,
        "ws_us": ws_us,
        "post_user": post_user,
        "ws_user": ws_user,
    }


def _rotations(names: list[str], runs: int) -> Iterator[tuple[int, list[str]]]:
    for run in range(1, runs + 1):
        shift = (run - 1) % len(names)
        yield run, names[shift:] + names[:shift]


def _named_dir(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, Path(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=3000, help="POSTs and sockets")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--vts",
        action="append",
        type=_named_dir,
        default=[],
        metavar="NAME=DIR",
        help="a vts snapshot to measure (repeatable); default: this work tree",
    )
    parser.add_argument("--no-trivial", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy each vts phase")
    parser.add_argument("--profile-rate", type=int, default=250, help="samples/s")
    args = parser.parse_args()
    raise_nofile()
    sources: dict[str, Path | None] = dict(args.vts) or {"vts": None}
    if not args.no_trivial:
        sources = {"trivial": None, **sources}
    print_header("server CPU per POST and per WebSocket open")
    rows = []
    for run, order in _rotations(list(sources), args.runs):
        for name in order:
            src = sources[name]
            if name != "trivial" and src is None:
                src = Path(__file__).resolve().parent.parent
            row = measure(name, src, args, run)
            print(
                f"run {run} {name}: POST {row['post_us']:.0f} µs "
                f"(user {row['post_user']:.0f}), WS {row['ws_us']:.0f} µs "
                f"(user {row['ws_user']:.0f})",
                flush=True,
            )
            rows.append(row)
    for column, title in COLUMNS.items():
        print(f"\n{title}")
        print_table(
            ["server", "per run", "median", "over trivial"],
            _summary(rows, list(sources), column),
        )


COLUMNS = {
    "post_us": "server CPU µs per POST /translate (user + system)",
    "post_user": "server user CPU µs per POST /translate",
    "ws_us": "server CPU µs per /ws/job/{id} open (user + system)",
    "ws_user": "server user CPU µs per /ws/job/{id} open",
}


def _summary(
    rows: list[dict[str, Any]], names: list[str], column: str
) -> list[list[str]]:
    """One table row per server: every run's figure, the median, the median minus
    the trivial app's."""
    medians = {
        name: statistics.median(r[column] for r in rows if r["target"] == name)
        for name in names
    }
    base = medians.get("trivial")
    return [
        [
            name,
            " / ".join(f"{r[column]:.0f}" for r in rows if r["target"] == name),
            f"{medians[name]:.0f}",
            "" if base is None else f"{medians[name] - base:+.0f}",
        ]
        for name in names
    ]


if __name__ == "__main__":
    main()
