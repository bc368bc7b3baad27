"""Durable submissions: wrk POSTs /translate on 64 connections against `vts serve --no-workers`.

With --auth, each run also measures vts with VTS_AUTH=keys, wrk sending a tenant key."""

from __future__ import annotations

import argparse
import re
import shutil
import sqlite3
import subprocess
import time
import urllib.request
from typing import Any

from _breakdown import print_run_stats, read_trace
from _harness import (
    GOAL_AUTH_COST,
    HERE,
    KEYS_ENV,
    Server,
    add_vts_env_option,
    profiled,
    tenant_key,
)
from _report import GOAL_HEADERS, goal_row, print_ab, print_header, print_table
from _variants import Target, add_vts_src_option, describe, plan, variants
from _wrk import parse_wrk

# Issue 11's goal: >= 45 % of the plain aiohttp app's rate (same run), p99 <= 30 ms.
GOAL_RATIO = 0.45
GOAL_P99_MS = 30.0


def jobs_in_metrics(server: Server) -> int:
    """Sum of the vts_jobs gauge (jobs in the store by state, read at scrape time),
    once it has stopped growing: requests wrk cut off may still be committing."""
    previous = -1
    while True:
        with urllib.request.urlopen(f"{server.url}/metrics", timeout=30) as reply:
            text = reply.read().decode()
        values = re.findall(r"^vts_jobs\{[^}]*\} (\S+)$", text, re.M)
        count = int(sum(float(v) for v in values))
        if count == previous:
            return count
        previous = count
        time.sleep(0.5)


def jobs_on_disk(path: str) -> int:
    """Rows in the SQLite file once the server has exited: what survived."""
    with sqlite3.connect(path) as conn:
        count: int = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
    return count


def measure(target: Target, args: argparse.Namespace, run: int) -> dict[str, Any]:
    is_vts = target.variant is not None
    env = dict(args.vts_env) | (KEYS_ENV if target.keys else {})
    server = (
        Server.vts(
            workers=False, extra_env=env, traced=args.trace, src=target.variant.src
        )
        if target.variant is not None
        else Server.trivial()
    )
    with server:
        auth = tenant_key(server) if target.keys else {}
        command = [
            args.wrk,
            f"-t{args.threads}",
            f"-c{args.connections}",
            f"-d{args.duration}s",
            "--latency",
            "-s",
            str(HERE / "post_translate.lua"),
            *[f"--header={name}: {value}" for name, value in auth.items()],
            f"{server.url}/translate",
        ]
        name = target.name.replace(":", "-")
        profile = (
            f"{args.profile}-{name}-{run}.txt" if is_vts and args.profile else None
        )
        cpu = server.cpu_seconds()
        with profiled(server.pid, profile):
            done = subprocess.run(command, capture_output=True, text=True, check=True)
        result = parse_wrk(done.stdout)
        cpu = server.cpu_seconds() - cpu
        result.update(target=target.name, run=run, server_cpu=cpu)
        result["server_us"] = cpu / max(result["requests"], 1) * 1e6
        if is_vts:
            result["metric_jobs"] = jobs_in_metrics(server)
            server.stop()
            assert server.database_path is not None
            result["disk_jobs"] = jobs_on_disk(server.database_path)
            if args.trace:
                assert server.trace_path is not None
                print(f"\n{target.name} run {run}: inside the server (traced)")
                print_run_stats(read_trace(server.trace_path), [])
                print()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=2, help="runs per target")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy the vts server into PREFIX-*.txt"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run vts with timing probes (benchmarks/_traced_vts.py): commit sizes "
        "and times, cache flushes, event-loop lag",
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="also run vts with VTS_AUTH=keys (wrk sends a tenant key)",
    )
    add_vts_env_option(parser)
    add_vts_src_option(parser)
    args = parser.parse_args()
    chosen = variants(args)
    if shutil.which(args.wrk) is None:
        parser.error(f"{args.wrk} not found: apt-get install -y wrk")
    print_header(
        f"submit throughput: wrk -t{args.threads} -c{args.connections} "
        f"-d{args.duration}s POST /translate, vts serve --no-workers",
        describe(chosen),
    )
    results = []
    for run in range(1, args.repeat + 1):
        for target in plan(run, chosen, auth=args.auth):
            result = measure(target, args, run)
            print(
                f"  {target.name:9} run {run}: {result['rps']:,.0f} requests/s",
                flush=True,
            )
            results.append(result)
    print()
    print_table(
        [
            "target",
            "run",
            "requests/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "2xx",
            "non-2xx",
            "socket errors",
            "server CPU µs/request",
        ],
        [
            [
                r["target"],
                r["run"],
                r["rps"],
                r["p50"],
                r["p90"],
                r["p99"],
                r["ok"],
                r["non_2xx"],
                r["socket_errors"],
                r["server_us"],
            ]
            for r in results
        ],
    )
    print()
    names = [v.name for v in chosen]
    summary, durability = [], []
    for run in range(1, args.repeat + 1):
        by = {r["target"]: r for r in results if r["run"] == run}
        ceiling = by["trivial"]
        for name in names:
            vts, row = by[name], [run, name, "submit"]
            share = vts["rps"] / ceiling["rps"] if ceiling["rps"] else 0.0
            value = f"{vts['rps']:,.0f} / {ceiling['rps']:,.0f} = {share:.0%}"
            met = share >= GOAL_RATIO
            summary.append(
                goal_row(row, "requests/s ÷ trivial", value, GOAL_RATIO, met)
            )
            p99 = f"{vts['p99']:.1f} ms (trivial {ceiling['p99']:.1f})"
            met = vts["p99"] <= GOAL_P99_MS
            summary.append(goal_row(row, "p99", p99, f"<= {GOAL_P99_MS:g} ms", met))
    for r in results:
        if r["target"].startswith("vts"):
            gap = r["disk_jobs"] - r["ok"]
            durable = "ok" if 0 <= gap <= args.connections else "LOST"
            counts = [r["ok"], r["metric_jobs"], r["disk_jobs"], gap]
            durability.append([r["target"], r["run"], *counts, durable])
    print_table(GOAL_HEADERS, summary)
    metrics = [("requests/s", "rps"), ("server CPU/request", "server_us")]
    print_ab(results, names, [*metrics, ("p99", "p99")], group="")
    print()
    # wrk stops with up to one request in flight per connection: the server may have
    # stored those jobs without wrk reading the 202, so the store may hold up to
    # `connections` more jobs than 2xx responses counted, never fewer.
    print_table(
        [
            "target",
            "run",
            "2xx counted by wrk",
            "vts_jobs metric",
            "rows on disk after exit",
            "disk - 2xx",
            "durable",
        ],
        durability,
    )
    if args.auth:
        _print_auth_cost(results, names, args.repeat)


def _print_auth_cost(
    results: list[dict[str, Any]], names: list[str], runs: int
) -> None:
    """Keys on against keys off, run by run (each pair ran back to back)."""
    rows = []
    for run, name in ((run, name) for run in range(1, runs + 1) for name in names):
        pair = {r["target"]: r for r in results if r["run"] == run}
        off, on = pair[name], pair[f"{name}+keys"]
        cost = 1 - on["rps"] / off["rps"] if off["rps"] else 0.0
        cpu = [r["server_us"] for r in (off, on)]
        rows.append(
            [
                name,
                run,
                off["rps"],
                on["rps"],
                f"{on['rps'] / off['rps']:.3f}" if off["rps"] else "n/a",
                f"{cost:+.1%}",
                f"{off['p99']:.1f} / {on['p99']:.1f}",
                f"{cpu[1] - cpu[0]:+.0f}",
                "met" if cost <= GOAL_AUTH_COST else "not met",
            ]
        )
    print()
    print_table(
        [
            "vts",
            "run",
            "keys off requests/s",
            "keys on requests/s",
            "on / off",
            "cost",
            "p99 ms off / on",
            "server CPU µs/request",
            f"goal <= {GOAL_AUTH_COST:.0%}",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
