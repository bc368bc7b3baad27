"""Webhook delivery: deliveries/s to a local receiver, and latency from a job change
to the receiver's 2xx (issue 12's goals: >= 1,000/s on one replica; p99 <= 50 ms
at moderate load).

`burst`: N jobs at once to an endpoint for every event type ("*", three messages a
job): deliveries/s from the first to the last arrival, the jobs' own writes sharing
the process. `backlog`: the same N jobs run first with no endpoint; vts restarts
with an endpoint that predates them and its dispatch cursor at the log's start, so
it dispatches and delivers the logged events with nothing else to do (deliveries/s
from the first to the last arrival). `moderate`: jobs at a steady rate to an
endpoint for job.completed: latency percentiles from the job's `updated_at` to the
receiver's answer (the same clock: one machine). The receiver runs in this process
and answers 204; vts on SQLite with VTS_WEBHOOK_ALLOW_PRIVATE=true. With several
--vts-src variants, each mode runs them back to back (A B, then B A in the next
repeat) and a last table gives B / A run by run.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from _harness import add_vts_env_option
from _report import (
    GOAL_HEADERS,
    goal_row,
    print_ab,
    print_columns,
    print_header,
    print_table,
)
from _variants import add_vts_src_option, describe, variants
from _webhook_runs import SHARES, run

GOAL_RATE = 1000.0
GOAL_P99_MS = 50.0
MODES = ("burst", "backlog", "moderate")


def goals(results: list[dict[str, Any]], rate: float) -> list[list[object]]:
    rows = []
    for r in results:
        head = [r["run"], r["target"], r["mode"]]
        if r["mode"] == "moderate":
            rows.append(
                goal_row(
                    [*head[:2], f"{rate:g} jobs/s"],
                    "p99 change -> 2xx",
                    f"{r['p99']:.1f} ms",
                    f"<= {GOAL_P99_MS:g} ms",
                    r["p99"] <= GOAL_P99_MS,
                )
            )
        else:
            rows.append(
                goal_row(
                    head,
                    "deliveries/s",
                    f"{r['per_s']:,.0f}",
                    f">= {GOAL_RATE:,.0f}",
                    r["per_s"] >= GOAL_RATE,
                )
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2000, help="burst/backlog jobs")
    parser.add_argument("--rate", type=float, default=100.0, help="moderate jobs/s")
    parser.add_argument("--seconds", type=float, default=10.0, help="moderate length")
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help=f"comma-separated, of {', '.join(MODES)} (all)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each mode")
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="cProfile the backlog's delivering server (its event loop's thread) "
        "into PREFIX-<variant>-<run>.prof",
    )
    add_vts_env_option(parser)
    add_vts_src_option(parser)
    args = parser.parse_args()
    modes = [m.strip() for m in args.modes.split(",")]
    if not modes or not set(modes) <= set(MODES):
        parser.error(f"--modes: a comma-separated list of {', '.join(MODES)}")
    chosen, env = variants(args), dict(args.vts_env)
    print_header(
        "Webhook delivery: throughput and change -> 2xx latency", describe(chosen)
    )
    results = []
    for repeat in range(1, args.repeat + 1):
        for mode in modes:
            order = chosen if repeat % 2 else chosen[::-1]
            for variant in order:
                jobs = (
                    args.jobs if mode != "moderate" else int(args.rate * args.seconds)
                )
                profile = None
                if args.profile and mode == "backlog":
                    label = variant.label or "vts"
                    profile = f"{args.profile}-{label}-{repeat}.prof"
                result = asyncio.run(
                    run(mode, jobs, args.rate, env, variant.src, profile)
                )
                result |= {"run": repeat, "target": variant.name}
                print(
                    f"  {variant.name:10} run {repeat} {mode:8}: "
                    f"{result['per_s']:,.0f}/s, {result['cpu_us']:.0f} µs CPU each",
                    flush=True,
                )
                results.append(result)
    print()
    print_columns(
        results,
        [
            ("target", "target"),
            ("run", "run"),
            ("mode", "mode"),
            ("jobs", "jobs"),
            ("deliveries", "deliveries"),
            ("per s", "per_s"),
            ("vts CPU µs/delivery", "cpu_us"),
            ("receiver CPU µs/delivery", "own_us"),
            *((f"{name} ms", name) for name, _ in SHARES),
        ],
    )
    print()
    print_table(GOAL_HEADERS, goals(results, args.rate))
    metrics = [("per s", "per_s"), ("CPU/delivery", "cpu_us"), ("p99", "p99")]
    print_ab(results, [v.name for v in chosen], metrics)


if __name__ == "__main__":
    main()
