"""End-to-end throughput: submit N no-op jobs over HTTP and watch them complete.

Beside vts (one or more --vts-src variants) and the trivial app, the multiplexed
mode also runs arq and SAQ (--peers) on one redis-server: the same number of no-op
jobs, as many in flight, each library's own enqueue-and-wait."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from _e2e_load import MODES
from _harness import (
    GOAL_AUTH_COST,
    KEYS_ENV,
    Server,
    add_vts_env_option,
    own_cpu_seconds,
    profiled,
    tenant_key,
)
from _peer_targets import PeerRedis, add_peer_options, chosen_peers, versions
from _report import (
    GOAL_HEADERS,
    goal_row,
    print_ab,
    print_columns,
    print_header,
    print_table,
    verdict,
)
from _variants import Target, add_vts_src_option, describe, plan, variants

# Issue 11's goals, against the trivial app and SAQ measured in the same run.
GOAL_MULTIPLEXED_RATIO = 0.50  # of the trivial app's jobs/s
GOAL_CPU_RATIO = 2.0  # at most this times the trivial app's server CPU per job
GOAL_PER_JOB_RATIO = 0.80  # of the trivial app's jobs/s
GOAL_VS_SAQ = 2.0  # times SAQ's jobs/s (multiplexed; SAQ waits per job)


def measure(
    target: Target,
    mode: str,
    args: argparse.Namespace,
    run: int,
    peers: PeerRedis | None,
) -> dict[str, Any]:
    """One system's run: a fresh server (or peer worker) and the load against it."""
    row: dict[str, Any] = {"target": target.name, "mode": mode, "run": run}
    if target.kind == "peer":
        assert peers is not None
        load = ["--jobs", str(args.jobs), "--in-flight", str(args.in_flight)]
        raw = peers.run(target.name, "throughput", load)
        done, cpu = raw["completed"], raw["cpu"]
        per_job = 1e6 / max(done, 1)
        return row | {
            "completed": done,
            "missed": raw["missed"],
            "seconds": raw["seconds"],
            "jobs_s": raw["jobs_s"],
            "server_us": cpu["worker"] * per_job,
            "redis_us": cpu["redis"] * per_job,
            "client_us": cpu["client"] * per_job,
        }
    if target.kind == "vts":
        env = dict(args.vts_env) | (KEYS_ENV if target.keys else {})
        assert target.variant is not None
        server = Server.vts(
            sim_duration="0",
            concurrency=args.concurrency,
            extra_env=env,
            src=target.variant.src,
        )
    else:
        server = Server.trivial()
    with server:
        auth = tenant_key(server) if target.keys else {}
        profile = None
        if target.kind == "vts" and args.profile:
            profile = f"{args.profile}-{mode}-{target.name.replace(':', '-')}-{run}.txt"
        cpu_before, own_before = server.cpu_seconds(), own_cpu_seconds()
        try:
            with profiled(server.pid, profile):
                work = MODES[mode](server, args.jobs, args.in_flight, auth)
                result = asyncio.run(work)
        except TimeoutError:
            print(f"{target.name} stopped answering; its stacks:")
            print(server.dump_stacks())
            raise
        server_cpu = server.cpu_seconds() - cpu_before
        client_cpu = own_cpu_seconds() - own_before
    done = len(result.completed)
    return row | {
        "completed": done,
        "rejected": result.rejected,
        "seconds": result.seconds,
        "jobs_s": done / result.seconds if result.seconds > 0 else 0.0,
        "server_us": server_cpu / max(done, 1) * 1e6,
        "client_us": client_cpu / max(done, 1) * 1e6,
    }


def goals(results: list[dict[str, Any]], names: list[str]) -> list[list[object]]:
    """Issue 11's comparisons, run by run, for each vts variant (keys off)."""
    rows: list[list[object]] = []
    for mode, run in dict.fromkeys((r["mode"], r["run"]) for r in results):
        by = {r["target"]: r for r in results if r["mode"] == mode and r["run"] == run}
        trivial = by.pop("trivial")
        peers = [name for name in by if not name.startswith("vts")]
        for name in names:
            vts, row = by[name], [run, name, mode]
            share = vts["jobs_s"] / trivial["jobs_s"] if trivial["jobs_s"] else 0.0
            goal = GOAL_PER_JOB_RATIO if mode == "per-job" else GOAL_MULTIPLEXED_RATIO
            rows.append(
                goal_row(row, "jobs/s ÷ trivial", f"{share:.1%}", goal, share >= goal)
            )
            cpu = vts["server_us"] / trivial["server_us"]
            rows.append(
                goal_row(row, "server CPU/job ÷ trivial", f"{cpu:.2f}x")
                if mode == "per-job"
                else goal_row(
                    row,
                    "server CPU/job ÷ trivial",
                    f"{cpu:.2f}x",
                    f"<= {GOAL_CPU_RATIO:g}x",
                    cpu <= GOAL_CPU_RATIO,
                )
            )
            for peer in peers:
                times = vts["jobs_s"] / by[peer]["jobs_s"] if by[peer]["jobs_s"] else 0
                compared, value = f"jobs/s ÷ {peer}", f"{times:.2f}x"
                rows.append(
                    goal_row(
                        row,
                        compared,
                        value,
                        f">= {GOAL_VS_SAQ:g}x",
                        times >= GOAL_VS_SAQ,
                    )
                    if peer == "saq"
                    else goal_row(row, compared, value)
                )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64, help="every worker")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--repeat", type=int, default=2, help="runs per target")
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy the vts server into PREFIX-*.txt"
    )
    parser.add_argument(
        "--auth",
        action="store_true",
        help="also run vts with VTS_AUTH=keys (a tenant key on every request)",
    )
    add_vts_env_option(parser)
    add_vts_src_option(parser)
    add_peer_options(parser)
    args = parser.parse_args()
    chosen, peer_names = variants(args), chosen_peers(parser, args)
    modes = list(MODES) if args.mode == "both" else [args.mode]
    title = f"e2e throughput: {args.jobs:,} jobs, {args.in_flight} in flight"
    if peer_names and "multiplexed" in modes:
        title += f"; multiplexed also {', '.join(peer_names)} ("
        title += f"{versions(args.peer_python)}, one redis-server)"
    print_header(title, describe(chosen))
    peers = PeerRedis(args.peer_python, args.concurrency) if peer_names else None
    results = []
    try:
        for run in range(1, args.repeat + 1):
            for mode in modes:
                with_peers = peer_names if mode == "multiplexed" else []
                for target in plan(run, chosen, auth=args.auth, peers=with_peers):
                    result = measure(target, mode, args, run, peers)
                    print(
                        f"  {target.name:9} {mode:11} run {run}: "
                        f"{result['jobs_s']:,.0f} jobs/s",
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
            ("mode", "mode"),
            ("run", "run"),
            ("completed", "completed"),
            ("seconds", "seconds"),
            ("jobs/s", "jobs_s"),
            ("server CPU µs/job", "server_us"),
            ("redis-server CPU µs/job", "redis_us"),
            ("client CPU µs/job", "client_us"),
            ("missed notices", "missed"),
        ],
    )
    print("\nserver CPU: the vts or trivial server process; for arq/SAQ their worker.")
    names = [v.name for v in chosen]
    print()
    print_table(GOAL_HEADERS, goals(results, names))
    print_ab(results, names, [("jobs/s", "jobs_s"), ("server CPU/job", "server_us")])
    if args.auth:
        _print_auth_cost(results, names)


def _print_auth_cost(results: list[dict[str, Any]], names: list[str]) -> None:
    """Keys on against keys off, run by run (each pair ran back to back)."""
    rows = []
    for mode, run in dict.fromkeys((r["mode"], r["run"]) for r in results):
        by = {r["target"]: r for r in results if r["mode"] == mode and r["run"] == run}
        for name in names:
            off, on = by[name], by[f"{name}+keys"]
            cost = 1 - on["jobs_s"] / off["jobs_s"] if off["jobs_s"] else 0.0
            extra = on["server_us"] - off["server_us"]
            met = verdict(cost <= GOAL_AUTH_COST)
            row = [name, mode, run, off["jobs_s"], on["jobs_s"], f"{cost:+.1%}"]
            rows.append([*row, f"{extra:+.0f}", met])
    print()
    headers = ["vts", "mode", "run", "keys off jobs/s", "keys on jobs/s", "cost"]
    print_table([*headers, "server CPU µs/job", f"goal <= {GOAL_AUTH_COST:.0%}"], rows)


if __name__ == "__main__":
    main()
