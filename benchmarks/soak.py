"""Soak: vts under a steady load for minutes while replicas are killed, stopped and
restarted (and Redis restarted); then every accepted job is checked."""

# python benchmarks/soak.py [--minutes 10] [--profile sqlite|postgres] [--rate 50]
#   [--seed 1] [--fault-interval 20-60] [--duration 0.2-2] [--error-rate 0.05]
# sqlite: one `vts serve` on one SQLite file (in-process fakeredis), killed and
# restarted on the same file. postgres: `--replicas` (2) on one durable Postgres and
# one redis-server; faults hit a random replica, or restart Redis. The client POSTs
# with an Idempotency-Key per job and retries transport errors and 503s on any
# replica, as a real client would; one /ws/jobs?all=true watcher (reconnecting)
# times each job to its final status. At the end: load stops, faults stop, the run
# waits (bounded) for every accepted job to be final, then reads every job back
# (GET /jobs) and reports lost, stuck and duplicated jobs (exit status 1 if any).

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from _harness import Server, add_vts_env_option, raise_nofile
from _report import print_header, print_table
from _services import Services
from _soak_audit import drain, get_jobs, list_jobs, stale_reads
from _soak_faults import Cluster, Fault, inject_faults, sample_rss
from _soak_load import Ledger, offer, watch
from _soak_report import audit, end_to_end, lifetimes, minutes, missed, unwatched

SUMMARY = ["accepted", "completed", "failed", "cancelled", "stuck", "lost"]
SUMMARY += ["duplicated", "not accepted", "POSTs", "202 replayed", "watcher connects"]
SUMMARY += ["final seen by watcher / from completed_at"]


@dataclass
class Outcome:
    ledger: Ledger
    faults: list[Fault]
    stored: dict[str, Any]
    load_seconds: float
    drain_seconds: float
    stale: list[str]  # replica answers that disagree with the store at the end


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("-")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected LOW-HIGH seconds, got {text!r}")
    return bounds


async def soak(
    args: argparse.Namespace, cluster: Cluster, rng: random.Random
) -> Outcome:
    ledger = Ledger()
    cluster.t0 = ledger.t0
    stop = asyncio.Event()
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        background = [
            asyncio.create_task(
                watch(session, cluster.ws_urls, ledger, random.Random(rng.random()))
            ),
            asyncio.create_task(sample_rss(cluster)),
        ]
        faulter = asyncio.create_task(
            inject_faults(
                cluster, args.fault_interval, stop, random.Random(rng.random())
            )
        )
        submissions = await offer(
            session, cluster.urls, ledger, args.rate, args.minutes * 60, rng
        )
        stop.set()
        faults = await faulter
        await asyncio.gather(*submissions)
        load_seconds = time.monotonic() - ledger.t0
        print(
            f"  [{load_seconds:6.1f} s] load over: {len(ledger.accepted())} accepted, "
            f"{len(ledger.unfinished())} not seen final yet",
            flush=True,
        )
        drain_seconds = await drain(session, cluster.urls()[0], args.drain_timeout)
        await asyncio.sleep(1.0)  # the watcher's last events
        stored = await list_jobs(session, cluster.urls()[0])
        missing = [s.job_id for s in ledger.accepted() if s.job_id not in stored]
        found = await get_jobs(session, cluster.urls()[0], [m for m in missing if m])
        stored.update((i, job) for i, job in found.items() if job is not None)
        stale = await stale_reads(
            session, cluster.urls(), unwatched(ledger, stored), stored
        )
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
    return Outcome(ledger, faults, stored, load_seconds, drain_seconds, stale)


def report(
    args: argparse.Namespace,
    outcome: Outcome,
    cluster: Cluster,
    logs: collections.Counter[str],
) -> int:
    """Print the tables; 1 if a job was lost, stuck or duplicated, else 0."""
    ledger, result = outcome.ledger, audit(outcome.ledger, outcome.stored)
    stored = outcome.stored
    ends = [t for s in ledger.accepted() if (t := end_to_end(ledger, s, stored))]
    tries = [s.tries for s in ledger.submissions]
    print(
        f"\nload {outcome.load_seconds:.0f} s, then {outcome.drain_seconds:.1f} s "
        f"until every accepted job was final (limit {args.drain_timeout:.0f} s)\n"
    )
    print_table(
        SUMMARY,
        [
            [
                result.accepted,
                result.statuses["completed"],
                result.statuses["failed"],
                result.statuses["cancelled"],
                len(result.stuck),
                len(result.lost),
                len(result.duplicated),
                sum(result.refused.values()),
                sum(tries),
                sum(s.replayed for s in ledger.submissions),
                len(ledger.watcher_connects),
                f"{sum(w for _, w in ends)} / {sum(not w for _, w in ends)}",
            ]
        ],
    )
    print()
    print_table(["failed: error code", "jobs"], sorted(result.failed.items()))
    attempts = ", ".join(f"{n}: {c}" for n, c in sorted(result.attempts.items()))
    print(f"\nattempts per accepted job (attempts: jobs): {attempts}")
    print(
        f"job-not-found on subscribe: {len(ledger.not_found)}; stale reads at the end: "
        f"{len(outcome.stale)}; stored jobs whose "
        f"key never got a 202: {result.unacknowledged}; watcher and store disagree "
        f"on the final status: {len(result.disagree)}"
    )
    urls = {url: f"r{i + 1}" for i, url in enumerate(cluster.ws_urls())}
    connects = [f"{at:.1f} s {urls[url]}" for at, url in ledger.watcher_connects]
    print(f"watcher (re)connected: {', '.join(connects)}")
    if ledger.ws_errors:
        print(f"error messages on the watcher's socket: {dict(ledger.ws_errors)}")
    if gaps := missed(ledger, stored):
        print(
            "finals the watcher got over 1 s late or never, by completed_at: "
            + "; ".join(gaps)
        )
    for reason, count in result.refused.most_common():
        print(f"not accepted: {count} x {reason}")
    for name, items in (
        ("LOST", result.lost),
        ("STUCK", result.stuck),
        ("DUPLICATED", result.duplicated),
        ("DISAGREE", result.disagree),
        ("STALE", outcome.stale),
    ):
        for item in items[:10]:
            print(f"{name}: {item}")
    print(
        "\nper minute, by the minute a job was first POSTed. e2e: first POST to the"
        "\nwatcher receiving the final status (completed_at if it never did); done:"
        "\nfirst POST to completed_at. RSS: the replica's last sample in the minute,"
        "\n* = a new process in the minute.\n"
    )
    print_table(
        *minutes(ledger, stored, outcome.faults, cluster.samples, len(cluster.servers))
    )
    print("\nRSS per process lifetime\n")
    headers, rows = lifetimes(cluster.samples)
    print_table(headers, rows)
    if all(row[-1] == "too short to judge" for row in rows):
        print(
            "\nNo process lived long enough for a growth verdict: use a longer "
            "--fault-interval (or 0) to judge memory."
        )
    print(f"\nfaults ({len(outcome.faults)})\n")
    print_table(
        ["at s", "fault", "target", "detail", "serving again after s"],
        [[f.at, f.kind, f.target, f.detail, f.seconds] for f in outcome.faults],
    )
    print("\nvts log lines at WARNING and above (numbers and ids blanked)\n")
    for line, count in logs.most_common(25) or [("none", 0)]:
        print(f"  {count:6d}  {line}")
    verdict = "FAIL" if result.bad else "ok"
    print(
        f"\n{verdict}: lost {len(result.lost)}, stuck {len(result.stuck)}, "
        f"duplicated {len(result.duplicated)}"
    )
    return 1 if result.bad else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--profile", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=float, default=50.0, help="jobs/s offered")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--fault-interval",
        type=_range,
        default=(20.0, 60.0),
        metavar="LOW-HIGH",
        help="seconds between faults, uniform; 0 for none",
    )
    parser.add_argument("--duration", default="0.2-2", help="VTS_SIM_DURATION")
    parser.add_argument("--error-rate", type=float, default=0.05)
    parser.add_argument("--replicas", type=int, default=2, help="postgres profile")
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--lease-seconds", type=float, default=10.0)
    parser.add_argument("--redis-outage", type=_range, default=(1.0, 3.0))
    parser.add_argument("--drain-timeout", type=float, default=180.0)
    add_vts_env_option(parser)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    raise_nofile()
    low, high = args.fault_interval
    faults = f"a fault every {low:g}-{high:g} s" if high > 0 else "no faults"
    print_header(
        f"soak: {args.profile}, {args.minutes:g} min at {args.rate:g} jobs/s, {faults}; "
        f"jobs {args.duration} s, error rate {args.error_rate:g}, lease "
        f"{args.lease_seconds:g} s, concurrency {args.concurrency}"
    )
    env = {
        "VTS_SIM_ERROR_RATE": str(args.error_rate),
        "VTS_LEASE_SECONDS": str(args.lease_seconds),
        **dict(args.vts_env),
    }
    services, database = None, ""
    if args.profile == "sqlite":
        servers = [
            Server.vts(
                sim_duration=args.duration,
                concurrency=args.concurrency,
                extra_env=env,
            )
        ]
    else:
        services = Services()
        print(f"redis-server: {services.redis.binary}; {services.postgres.settings()}")
        database, servers = services.replicas(
            args.replicas,
            concurrency=args.concurrency,
            sim=args.duration,
            extra_env=env,
        )
    for index, server in enumerate(servers):
        server.env["VTS_SIM_SEED"] = str(args.seed * 100 + index)
    try:
        for server in servers:
            server.start()
        cluster = Cluster(
            servers,
            services.redis if services else None,
            time.monotonic(),
            args.redis_outage,
        )
        outcome = asyncio.run(soak(args, cluster, rng))
        logs = cluster.log_summary()
    finally:
        for server in servers:
            server.close()
        if services is not None:
            services.drop(database)
            services.close()
    return report(args, outcome, cluster, logs)


if __name__ == "__main__":
    sys.exit(main())
