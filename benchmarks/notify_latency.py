"""Notify latency: a job's completed_at to its watcher receiving the completed message.

Beside vts (one or more --vts-src variants) and the trivial app, arq and SAQ
(--peers) run the same staggered jobs on one redis-server, each client waiting for
its jobs the library's own way."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from _breakdown import print_breakdown, read_trace
from _harness import Server, add_vts_env_option, own_cpu_seconds, profiled
from _notify_watch import measure_once
from _peer_targets import PeerRedis, add_peer_options, chosen_peers, versions
from _report import (
    GOAL_HEADERS,
    goal_row,
    percentile,
    print_ab,
    print_columns,
    print_header,
    print_table,
)
from _variants import Target, add_vts_src_option, describe, plan, variants

# Issue 11's goals: p99 at most 1.5x SAQ's and the trivial app's + 2 ms, same run.
GOAL_P99_VS_SAQ = 1.5
GOAL_P99_OVER_TRIVIAL_MS = 2.0
CPU_PARTS = (("server", "worker"), ("redis", "redis"), ("client", "client"))
SHARES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))


def measure(
    target: Target, args: argparse.Namespace, run: int, peers: PeerRedis | None
) -> dict[str, Any]:
    """One system's run: a fresh server (or peer worker) and the staggered jobs."""
    row: dict[str, Any] = {"target": target.name, "run": run}
    per_job = 1e6 / max(args.jobs, 1)
    if target.kind == "peer":
        assert peers is not None
        load = ["--jobs", str(args.jobs), "--window", str(args.window)]
        load += ["--duration", str(args.duration), "--seed", str(args.seed + run)]
        raw = peers.run(target.name, "latency", load)
        cpu, latencies = raw["cpu"], raw["latencies_ms"]
        row |= {"measured": len(latencies), "early": 0, "missed": raw["missed"]}
        row |= {f"{part}_us": cpu[k] * per_job for part, k in CPU_PARTS}
        return row | {name: percentile(latencies, q) for name, q in SHARES}
    if target.kind == "vts":
        assert target.variant is not None
        server = Server.vts(
            sim_duration=str(args.duration),
            concurrency=64,
            extra_env=dict(args.vts_env),
            traced=args.trace,
            src=target.variant.src,
        )
    else:
        server = Server.trivial(complete_after=args.duration)
    with server:
        profile = None
        if target.kind == "vts" and args.profile:
            profile = f"{args.profile}-{target.name.replace(':', '-')}-{run}.txt"
        cpu, own = server.cpu_seconds(), own_cpu_seconds()
        with profiled(server.pid, profile):
            watch = asyncio.run(
                measure_once(server, args.jobs, args.window, args.seed + run)
            )
        server_cpu, client_cpu = server.cpu_seconds() - cpu, own_cpu_seconds() - own
        if target.kind == "vts" and args.trace:
            server.stop()  # the trace is written at exit
            assert server.trace_path is not None
            print(f"\n{target.name} run {run}: where the latency goes (traced server)")
            print_breakdown(read_trace(server.trace_path), watch.received)
            print()
    latencies, early = watch.latencies_ms()
    row |= {"measured": len(latencies), "early": early}
    row |= {"server_us": server_cpu * per_job, "client_us": client_cpu * per_job}
    return row | {name: percentile(latencies, share) for name, share in SHARES}


def goals(results: list[dict[str, Any]], names: list[str]) -> list[list[object]]:
    """Issue 11's comparisons, run by run, for each vts variant."""
    rows: list[list[object]] = []
    for run in dict.fromkeys(r["run"] for r in results):
        by = {r["target"]: r for r in results if r["run"] == run}
        trivial = by.pop("trivial")
        peers = [name for name in by if not name.startswith("vts")]
        for name in names:
            vts, row = by[name], [run, name, "notify"]
            for peer in peers:
                times = vts["p99"] / by[peer]["p99"]
                value = f"{vts['p99']:.2f} / {by[peer]['p99']:.2f} ms = {times:.2f}x"
                compared = f"p99 ÷ {peer} p99"
                if peer == "saq":
                    goal = f"<= {GOAL_P99_VS_SAQ:g}x"
                    met = times <= GOAL_P99_VS_SAQ
                    rows.append(goal_row(row, compared, value, goal, met))
                else:
                    rows.append(goal_row(row, compared, value))
            over = vts["p99"] - trivial["p99"]
            value = f"{vts['p99']:.2f} - {trivial['p99']:.2f} = {over:+.2f} ms"
            goal = f"<= +{GOAL_P99_OVER_TRIVIAL_MS:g} ms"
            met = over <= GOAL_P99_OVER_TRIVIAL_MS
            rows.append(goal_row(row, "p99 - trivial p99", value, goal, met))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--window", type=float, default=1.0, help="submit spread, s")
    parser.add_argument("--duration", type=float, default=0.05, help="job length, s")
    parser.add_argument("--repeat", type=int, default=2, help="runs per target")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy the vts server into PREFIX-*.txt"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="run vts with timing probes (benchmarks/_traced_vts.py) and break the "
        "latency down; the probes add a little cost of their own",
    )
    add_vts_env_option(parser)
    add_vts_src_option(parser)
    add_peer_options(parser)
    args = parser.parse_args()
    chosen, peer_names = variants(args), chosen_peers(parser, args)
    title = (
        f"notify latency: {args.jobs} jobs of {args.duration * 1000:g} ms "
        f"submitted at random over {args.window:g} s, one /ws/jobs watcher"
    )
    if peer_names:
        title += f"; also {', '.join(peer_names)} ({versions(args.peer_python)}, "
        title += "one redis-server, each job waited for its own way)"
    print_header(title, describe(chosen))
    peers = PeerRedis(args.peer_python, 64) if peer_names else None
    results = []
    try:
        for run in range(1, args.repeat + 1):
            for target in plan(run, chosen, peers=peer_names):
                result = measure(target, args, run, peers)
                print(
                    f"  {target.name:9} run {run}: p99 {result['p99']:.1f} ms",
                    flush=True,
                )
                results.append(result)
    finally:
        if peers is not None:
            peers.close()
    print()
    print_columns(
        results,
        [
            ("target", "target"),
            ("run", "run"),
            ("measured", "measured"),
            ("done before subscribed", "early"),
            *((f"{name} ms", name) for name, _ in SHARES),
            ("server CPU µs/job", "server_us"),
            ("redis-server CPU µs/job", "redis_us"),
            ("client CPU µs/job", "client_us"),
            ("missed notices", "missed"),
        ],
    )
    print()
    names = [v.name for v in chosen]
    print_table(GOAL_HEADERS, goals(results, names))
    metrics = [("p99", "p99"), ("p50", "p50"), ("server CPU/job", "server_us")]
    print_ab(results, names, metrics, group="")
    print(
        "\nserver CPU: the vts or trivial server process; for arq/SAQ their worker. "
        "vts and trivial latency: watcher received - completed_at, which is cut to "
        "the millisecond, so they read 0-1 ms high (0.5 ms on average); arq/SAQ: "
        "the waiting client's time.time() when it knew - the job function's at return."
    )


if __name__ == "__main__":
    main()
