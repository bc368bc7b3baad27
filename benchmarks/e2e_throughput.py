"""End-to-end throughput: submit N no-op jobs over HTTP and watch them complete."""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
import orjson
from _harness import (
    GOAL_AUTH_COST,
    KEYS_ENV,
    SEED_BODY,
    Server,
    add_vts_env_option,
    own_cpu_seconds,
    profiled,
    targets,
    tenant_key,
)
from _report import print_header, print_table, ratio

HEADERS = {"Content-Type": "application/json"}
# No request of a healthy run takes this long: fail fast and show where it hangs.
TIMEOUT = aiohttp.ClientTimeout(total=30)
GOAL_MULTIPLEXED = 2200.0  # jobs/s
GOAL_PER_JOB_RATIO = 0.75  # of the trivial app's figure


class Run:
    """Counters of one run: first submit to last completion seen."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.submitted = 0
        self.rejected = 0
        self.completed: set[str] = set()
        self.started = 0.0
        self.last_completion = 0.0
        self.all_done = asyncio.Event()

    def complete(self, job_id: str) -> None:
        self.completed.add(job_id)
        self.last_completion = time.perf_counter()
        if len(self.completed) >= self.expected:
            self.all_done.set()

    @property
    def expected(self) -> int:
        return self.jobs - self.rejected

    @property
    def seconds(self) -> float:
        return self.last_completion - self.started


async def _submit(session: aiohttp.ClientSession, url: str, run: Run) -> str | None:
    async with session.post(url, data=SEED_BODY, headers=HEADERS) as response:
        body = await response.read()
        if response.status != 202:
            run.rejected += 1
            return None
    run.submitted += 1
    job_id: str = orjson.loads(body)["job_id"]
    return job_id


async def multiplexed(
    server: Server, jobs: int, in_flight: int, auth: dict[str, str]
) -> Run:
    """One /ws/jobs?all=true watcher counts completions; 64 submitters post."""
    run = Run(jobs)
    url = f"{server.url}/translate"
    next_job = 0

    async def submitter(session: aiohttp.ClientSession) -> None:
        nonlocal next_job
        while next_job < jobs:
            next_job += 1
            await _submit(session, url, run)

    async def watcher(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            data = orjson.loads(msg.data)
            if data.get("status") == "completed":
                run.complete(data["job_id"])

    # One connection slot for the watcher, `in_flight` for the submitters.
    connector = aiohttp.TCPConnector(limit=in_flight + 1)
    async with aiohttp.ClientSession(
        connector=connector, timeout=TIMEOUT, headers=auth
    ) as session:
        ws = await session.ws_connect(f"{server.ws_url}/ws/jobs?all=true")
        reader = asyncio.create_task(watcher(ws))
        run.started = time.perf_counter()
        await asyncio.gather(*(submitter(session) for _ in range(in_flight)))
        await _wait_done(run)
        await ws.close()
        reader.cancel()
    return run


async def per_job(
    server: Server, jobs: int, in_flight: int, auth: dict[str, str]
) -> Run:
    """Each job: POST, then its own /ws/job/{id} socket until it reports completed."""
    run = Run(jobs)
    url = f"{server.url}/translate"
    next_job = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal next_job
        while next_job < jobs:
            next_job += 1
            job_id = await _submit(session, url, run)
            if job_id is None:
                continue
            async with session.ws_connect(f"{server.ws_url}/ws/job/{job_id}") as ws:
                async for msg in ws:
                    if orjson.loads(msg.data).get("status") == "completed":
                        run.complete(job_id)
                        break

    connector = aiohttp.TCPConnector(limit=in_flight)
    async with aiohttp.ClientSession(
        connector=connector, timeout=TIMEOUT, headers=auth
    ) as session:
        run.started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(in_flight)))
        await _wait_done(run)
    return run


async def _wait_done(run: Run) -> None:
    if len(run.completed) >= run.expected:
        return
    try:
        await asyncio.wait_for(run.all_done.wait(), timeout=max(60.0, run.jobs / 50))
    except TimeoutError:
        print(f"  timed out: {len(run.completed)} of {run.expected} completions seen")


MODES = {"multiplexed": multiplexed, "per-job": per_job}


def measure(
    target: str, mode: str, args: argparse.Namespace, label: str
) -> dict[str, Any]:
    keys = target == "vts+keys"
    if target.startswith("vts"):
        env = dict(args.vts_env)
        if keys:
            env.update(KEYS_ENV)
        server = Server.vts(
            sim_duration="0", concurrency=args.concurrency, extra_env=env
        )
    else:
        server = Server.trivial()
    with server:
        auth = tenant_key(server) if keys else {}
        profile = None
        if target.startswith("vts") and args.profile:
            profile = f"{args.profile}-{mode}-{label}.txt"
        cpu_before, own_before = server.cpu_seconds(), own_cpu_seconds()
        try:
            with profiled(server.pid, profile):
                run = asyncio.run(MODES[mode](server, args.jobs, args.in_flight, auth))
        except TimeoutError:
            print(f"{target} stopped answering; its stacks:\n{server.dump_stacks()}")
            raise
        server_cpu = server.cpu_seconds() - cpu_before
        client_cpu = own_cpu_seconds() - own_before
    done = len(run.completed)
    return {
        "target": target,
        "mode": mode,
        "run": label,
        "completed": done,
        "rejected": run.rejected,
        "seconds": run.seconds,
        "jobs_s": done / run.seconds if run.seconds > 0 else 0.0,
        "server_us": server_cpu / max(done, 1) * 1e6,
        "client_us": client_cpu / max(done, 1) * 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--concurrency", type=int, default=64, help="VTS_CONCURRENCY")
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
    args = parser.parse_args()
    print_header(f"e2e throughput: {args.jobs:,} jobs, {args.in_flight} in flight")
    modes = list(MODES) if args.mode == "both" else [args.mode]
    results = []
    for repeat in range(1, args.repeat + 1):
        for mode in modes:
            for target in targets(repeat, args.auth):
                result = measure(target, mode, args, str(repeat))
                print(
                    f"  {target:7} {mode:11} run {repeat}: "
                    f"{result['jobs_s']:,.0f} jobs/s",
                    flush=True,
                )
                results.append(result)
    print()
    print_table(
        [
            "target",
            "mode",
            "run",
            "completed",
            "seconds",
            "jobs/s",
            "server CPU µs/job",
            "client CPU µs/job",
        ],
        [
            [
                r["target"],
                r["mode"],
                r["run"],
                r["completed"],
                r["seconds"],
                r["jobs_s"],
                r["server_us"],
                r["client_us"],
            ]
            for r in results
        ],
    )
    print()
    summary = []
    for mode in modes:
        for repeat in range(1, args.repeat + 1):
            pair = {
                r["target"]: r
                for r in results
                if r["mode"] == mode and r["run"] == str(repeat)
            }
            vts, ceiling = pair["vts"], pair["trivial"]
            if mode == "multiplexed":
                goal = f">= {GOAL_MULTIPLEXED:,.0f} jobs/s"
                met = vts["jobs_s"] >= GOAL_MULTIPLEXED
            else:
                goal = f">= {GOAL_PER_JOB_RATIO:.0%} of ceiling"
                met = vts["jobs_s"] >= GOAL_PER_JOB_RATIO * ceiling["jobs_s"]
            summary.append(
                [
                    mode,
                    str(repeat),
                    vts["jobs_s"],
                    ceiling["jobs_s"],
                    ratio(vts["jobs_s"], ceiling["jobs_s"]),
                    f"{vts['server_us'] / ceiling['server_us']:.1f}x",
                    goal,
                    "met" if met else "not met",
                ]
            )
    print_table(
        [
            "mode",
            "run",
            "vts jobs/s",
            "ceiling jobs/s",
            "ratio",
            "server CPU/job vs ceiling",
            "goal",
            "result",
        ],
        summary,
    )
    if args.auth:
        _print_auth_cost(results, modes, args.repeat)


def _print_auth_cost(
    results: list[dict[str, Any]], modes: list[str], runs: int
) -> None:
    """Keys on against keys off, run by run (each pair ran back to back)."""
    rows = []
    for mode in modes:
        for repeat in range(1, runs + 1):
            pair = {
                r["target"]: r
                for r in results
                if r["mode"] == mode and r["run"] == str(repeat)
            }
            off, on = pair["vts"], pair["vts+keys"]
            cost = 1 - on["jobs_s"] / off["jobs_s"] if off["jobs_s"] else 0.0
            rows.append(
                [
                    mode,
                    str(repeat),
                    off["jobs_s"],
                    on["jobs_s"],
                    f"{cost:+.1%}",
                    f"{on['server_us'] - off['server_us']:+.0f}",
                    "met" if cost <= GOAL_AUTH_COST else "not met",
                ]
            )
    print()
    print_table(
        [
            "mode",
            "run",
            "keys off jobs/s",
            "keys on jobs/s",
            "cost",
            "server CPU µs/job",
            f"goal <= {GOAL_AUTH_COST:.0%}",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
