"""What vts adds per request and per WebSocket: server CPU per POST /translate and
per /ws/job/{id} open, vts (`serve --no-workers`) beside the trivial aiohttp app.

Every server runs at once; the load visits them in turns, a batch at a time:
- POST: `--batch` POSTs of the seed body over keep-alive connections,
  `--in-flight` at a time;
- WS: one `/ws/job/{id}` per job that batch created, each on a new connection:
  open, read the first message (vts: the pending snapshot; trivial: the completed
  message), close.
A server's CPU (all its threads, and its event loop's thread alone) is read around
each of its own batches, so it is billed only for its own load, and the machine's other
load, which comes and goes within seconds, falls on every server alike. That is
what makes an A/B of a few microseconds readable on a shared machine; measured one
after the other, the runs differ by 20-50 %. With `--vts NAME=DIR` (repeatable)
each named snapshot of vts/ is one of the servers (an A/B in one invocation).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from pathlib import Path

import aiohttp
import orjson
from _harness import CLOCK_TICKS, SEED_BODY, Server, profiled, raise_nofile
from _report import print_header, print_table

TIMEOUT = aiohttp.ClientTimeout(total=60)
HEADERS = {"Content-Type": "application/json"}
PHASES = ("post", "ws")


class Meter:
    """One server's CPU, billed per phase: the process (every thread) and its main
    thread (the event loop, where the HTTP and WebSocket work runs).

    The process's from its kernel CPU clock (clock_gettime on `((~pid) << 3) | 2`),
    which counts nanoseconds: /proc's 10 ms ticks would blur a batch's few
    microseconds. Another process's thread clock cannot be read, so the main
    thread's comes in /proc ticks: unbiased, but only readable over many batches.
    """

    def __init__(self, server: Server) -> None:
        self.server = server
        # phase -> per chunk of rounds: [process seconds, loop seconds, operations]
        self.chunks: dict[str, list[list[float]]] = {p: [] for p in PHASES}

    def reading(self) -> tuple[float, float]:
        pid = self.server.pid
        with open(f"/proc/{pid}/task/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        loop = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
        return time.clock_gettime((~pid << 3) | 2), loop

    def bill(
        self, phase: str, chunk: int, before: tuple[float, float], ops: int
    ) -> None:
        rows = self.chunks[phase]
        while len(rows) <= chunk:
            rows.append([0.0, 0.0, 0])
        after = self.reading()
        rows[chunk][0] += after[0] - before[0]
        rows[chunk][1] += after[1] - before[1]
        rows[chunk][2] += ops


async def _posts(
    session: aiohttp.ClientSession, server: Server, count: int
) -> list[str]:
    ids: list[str] = []
    todo = iter(range(count))
    url = f"{server.url}/translate"

    async def worker() -> None:
        for _ in todo:
            async with session.post(url, data=SEED_BODY, headers=HEADERS) as reply:
                assert reply.status == 202, await reply.text()
                ids.append(orjson.loads(await reply.read())["job_id"])

    await asyncio.gather(*(worker() for _ in range(session.connector.limit)))  # type: ignore[union-attr]
    return ids


async def _sockets(
    session: aiohttp.ClientSession, server: Server, ids: list[str]
) -> None:
    queue = iter(ids)

    async def worker() -> None:
        for job_id in queue:
            async with session.ws_connect(f"{server.ws_url}/ws/job/{job_id}") as ws:
                msg = await ws.receive()
                assert msg.type is aiohttp.WSMsgType.TEXT, msg

    await asyncio.gather(*(worker() for _ in range(session.connector.limit)))  # type: ignore[union-attr]


async def load(meters: dict[str, Meter], args: argparse.Namespace) -> None:
    names = list(meters)
    limit = args.in_flight
    async with contextlib.AsyncExitStack() as stack:
        posting = await stack.enter_async_context(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit), timeout=TIMEOUT
            )
        )
        # force_close: every socket on a new connection, as a per-job client does
        opening = await stack.enter_async_context(
            aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=limit, force_close=True),
                timeout=TIMEOUT,
            )
        )
        for meter in meters.values():  # warm-up: imports, caches, first labels
            warm = await _posts(posting, meter.server, args.warmup)
            await _sockets(opening, meter.server, warm)
        rounds = max(1, args.ops // args.batch)
        per_chunk = -(-rounds // args.chunks)
        for round_ in range(rounds):
            shift = round_ % len(names)
            order = names[shift:] + names[:shift]
            chunk = round_ // per_chunk
            ids = {}
            for name in order:
                meter = meters[name]
                before = meter.reading()
                ids[name] = await _posts(posting, meter.server, args.batch)
                meter.bill("post", chunk, before, args.batch)
            for name in order:
                meter = meters[name]
                before = meter.reading()
                await _sockets(opening, meter.server, ids[name])
                meter.bill("ws", chunk, before, args.batch)


def _named_dir(text: str) -> tuple[str, Path]:
    name, sep, path = text.partition("=")
    if not sep or not name or name == "trivial" or not Path(path).is_dir():
        raise argparse.ArgumentTypeError(f"expected NAME=DIR, got {text!r}")
    return name, Path(path)


COLUMNS = {
    ("post", 0): "server CPU µs per POST /translate (every thread)",
    ("post", 1): "event loop CPU µs per POST /translate (main thread)",
    ("ws", 0): "server CPU µs per /ws/job/{id} open (every thread)",
    ("ws", 1): "event loop CPU µs per /ws/job/{id} open (main thread)",
}


def _summary(meters: dict[str, Meter], phase: str, column: int) -> list[list[str]]:
    """Per server: each chunk's figure, the whole run's, and that minus the trivial
    app's."""
    whole = {}
    rows = []
    for name, meter in meters.items():
        chunks = meter.chunks[phase]
        ops = sum(c[2] for c in chunks)
        whole[name] = sum(c[column] for c in chunks) / ops * 1e6
        per_chunk = [c[column] / c[2] * 1e6 for c in chunks]
        spread = statistics.pstdev(per_chunk) if len(per_chunk) > 1 else 0.0
        rows.append(
            [
                name,
                " / ".join(f"{v:.1f}" for v in per_chunk),
                f"{whole[name]:.1f} ± {spread:.1f}",
            ]
        )
    base = whole.get("trivial")
    for row, name in zip(rows, meters, strict=True):
        row.append("" if base is None else f"{whole[name] - base:+.1f}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ops", type=int, default=6000, help="POSTs and sockets")
    parser.add_argument("--batch", type=int, default=200, help="operations per turn")
    parser.add_argument("--chunks", type=int, default=3, help="spread shown over")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=4)
    parser.add_argument(
        "--vts",
        action="append",
        type=_named_dir,
        default=[],
        metavar="NAME=DIR",
        help="a vts snapshot to measure (repeatable); default: this work tree",
    )
    parser.add_argument("--no-trivial", action="store_true")
    parser.add_argument("--profile", metavar="PREFIX", help="py-spy each vts server")
    parser.add_argument("--profile-rate", type=int, default=250, help="samples/s")
    args = parser.parse_args()
    raise_nofile()
    here = Path(__file__).resolve().parent.parent
    sources: dict[str, Path] = dict(args.vts) or {"vts": here}
    print_header("server CPU per POST and per WebSocket open")
    with contextlib.ExitStack() as stack:
        meters = {}
        if not args.no_trivial:
            meters["trivial"] = Meter(stack.enter_context(Server.trivial()))
        for name, src in sources.items():
            server = stack.enter_context(Server.vts(workers=False, src=src))
            meters[name] = Meter(server)
            if args.profile:
                output = f"{args.profile}-{name}.txt"
                stack.enter_context(profiled(server.pid, output, args.profile_rate))
        asyncio.run(load(meters, args))
    for (phase, column), title in COLUMNS.items():
        print(f"\n{title}")
        print_table(
            ["server", "per chunk", "whole run ± chunk spread", "over trivial"],
            _summary(meters, phase, column),
        )


if __name__ == "__main__":
    main()
