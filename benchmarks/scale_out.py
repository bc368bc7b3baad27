"""vts on Postgres + Redis with 1 and 2 replicas: throughput, cross-replica notify, submissions."""

# python benchmarks/scale_out.py [--tests e2e,notify,submit] [--repeat 2]
# One durable Postgres (fsync on) and one redis-server, started here; a fresh database
# per measurement. e2e: the same no-op load as peers.py (POSTs spread round-robin over
# the replicas, one /ws/jobs?all=true watcher on replica A), beside arq's figure from
# the same run (peers.py's arq worker and client, on the same redis-server). notify:
# replica A runs --no-workers and holds the watcher; replica B gets the POSTs and runs
# the jobs, so every completion crosses Redis pub/sub; a single replica (POST and watch
# on it) is measured in the same run for reference. submit: wrk on 64 connections
# against `vts serve --no-workers`; afterwards the rows in the database are counted.

from __future__ import annotations

import argparse
import shutil

from _harness import add_vts_env_option
from _peer_load import measure_peer
from _peer_targets import DEFAULT_PEER_PYTHON
from _report import print_header, print_table
from _scale_out_runs import e2e, notify_run, submit
from _services import Services

GOAL_VS_ARQ = 1.5
GOAL_NOTIFY_P99_MS = 10.0
GOAL_SUBMIT_RPS = 3000.0


def _per(cpu: dict[str, float], count: int) -> list[float]:
    return [cpu.get(k, 0.0) / max(count, 1) * 1e6 for k in ("vts", "redis", "postgres")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tests", default="e2e,notify,submit")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-jobs", type=int, default=200)
    parser.add_argument("--window", type=float, default=1.0)
    parser.add_argument("--duration", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON)
    parser.add_argument("--arq", default="arq,arq-fast", help="arq variants for e2e")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--wrk-seconds", type=int, default=10)
    parser.add_argument("--submit-replicas", default="1", help="e.g. 1,2")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument(
        "--profile", metavar="PREFIX", help="py-spy each vts replica (e2e, submit)"
    )
    add_vts_env_option(parser)
    args = parser.parse_args()
    tests = args.tests.split(",")
    print_header(
        f"scale-out: vts on Postgres + Redis, tests {args.tests}; concurrency "
        f"{args.concurrency}; e2e {args.jobs:,} jobs / {args.in_flight} in flight"
    )
    services = Services()
    e2e_rows, notify_rows, submit_rows = [], [], []
    try:
        print(
            f"redis-server: {services.redis.binary}; {services.postgres.settings()}\n"
        )
        for run in range(1, args.repeat + 1):
            if "e2e" in tests:
                arq = {}
                for variant in filter(None, args.arq.split(",")):
                    arq[variant] = measure_peer(
                        variant, "throughput", services, args, 0
                    )
                    print(
                        f"  {variant} run {run}: {arq[variant]['jobs_s']:,.0f} jobs/s"
                    )
                for count in (1, 2):
                    r = e2e(services, args, count)
                    print(
                        f"  vts x{count} run {run}: {r['jobs_s']:,.0f} jobs/s",
                        flush=True,
                    )
                    ratios = [f"{r['jobs_s'] / a['jobs_s']:.1f}x" for a in arq.values()]
                    best = max((a["jobs_s"] for a in arq.values()), default=0.0)
                    met = r["jobs_s"] >= GOAL_VS_ARQ * best if best else None
                    e2e_rows.append(
                        [
                            run,
                            count,
                            r["completed"],
                            r["jobs_s"],
                            " / ".join(f"{a['jobs_s']:,.0f}" for a in arq.values()),
                            " / ".join(ratios),
                            *_per(r["cpu"], r["completed"]),
                            r["cpu"]["client"] / max(r["completed"], 1) * 1e6,
                            "n/a" if met is None else ("met" if met else "not met"),
                        ]
                    )
            if "notify" in tests:
                for count in (1, 2):
                    r = notify_run(services, args, count, args.seed + run)
                    print(
                        f"  notify x{count} run {run}: p99 {r['p99']:.1f} ms",
                        flush=True,
                    )
                    where = "same replica" if count == 1 else "watch A, run on B"
                    met = r["p99"] <= GOAL_NOTIFY_P99_MS
                    notify_rows.append(
                        [
                            run,
                            where,
                            len(r["latencies_ms"]),
                            r["early"],
                            r["p50"],
                            r["p90"],
                            r["p99"],
                            r["max"],
                            *(
                                r["cpu"].get(k, 0.0)
                                for k in ("vts", "redis", "postgres")
                            ),
                            "met" if met else "not met",
                        ]
                    )
            if "submit" in tests:
                for count in map(int, args.submit_replicas.split(",")):
                    r = submit(services, args, count)
                    print(f"  submit x{count} run {run}: {r['rps']:,.0f}/s", flush=True)
                    durable = (
                        "ok" if 0 <= r["rows"] - r["ok"] <= args.connections else "LOST"
                    )
                    met = r["rps"] >= GOAL_SUBMIT_RPS
                    submit_rows.append(
                        [
                            run,
                            count,
                            r["rps"],
                            r["p50"],
                            r["p99"],
                            r["ok"],
                            r["non_2xx"],
                            r["errors"],
                            r["rows"] - r["ok"],
                            durable,
                            *_per(r["cpu"], r["requests"]),
                            "met" if met else "not met",
                        ]
                    )
        print()
        if e2e_rows:
            print_table(
                [
                    "run",
                    "replicas",
                    "completed",
                    "vts jobs/s",
                    "arq jobs/s (" + args.arq + ")",
                    "vts / arq",
                    "vts CPU µs/job",
                    "redis µs/job",
                    "postgres µs/job",
                    "client µs/job",
                    f">= {GOAL_VS_ARQ}x best arq",
                ],
                e2e_rows,
            )
            print()
        if notify_rows:
            print_table(
                [
                    "run",
                    "where",
                    "measured",
                    "done before subscribed",
                    "p50 ms",
                    "p90 ms",
                    "p99 ms",
                    "max ms",
                    "vts CPU s",
                    "redis CPU s",
                    "postgres CPU s",
                    f"p99 <= {GOAL_NOTIFY_P99_MS:g} ms",
                ],
                notify_rows,
            )
            print(
                "\ncompleted_at is cut to the millisecond: latencies read 0-1 ms high.\n"
            )
        if submit_rows:
            print_table(
                [
                    "run",
                    "replicas",
                    "requests/s",
                    "p50 ms",
                    "p99 ms",
                    "2xx",
                    "non-2xx",
                    "socket errors",
                    "rows - 2xx",
                    "durable",
                    "vts CPU µs/req",
                    "redis µs/req",
                    "postgres µs/req",
                    f">= {GOAL_SUBMIT_RPS:,.0f}/s",
                ],
                submit_rows,
            )
    finally:
        services.close()


if __name__ == "__main__":
    main()
