"""The scale-out benchmark's measurements: each starts `count` vts replicas on a fresh
Postgres database (Redis shared), loads them, and returns what it measured."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import subprocess
from typing import Any

from _harness import HERE, Server, own_cpu_seconds, profiled
from _services import Services
from _vts_load import e2e_multiplexed, notify, quantiles
from _wrk import parse_wrk


def _profiled(
    servers: list[Server], args: argparse.Namespace, label: str
) -> contextlib.ExitStack:
    """py-spy every replica (--profile PREFIX) into PREFIX-LABEL-rN.txt."""
    stack = contextlib.ExitStack()
    if args.profile:
        for index, server in enumerate(servers):
            output = f"{args.profile}-{label}-r{index + 1}.txt"
            stack.enter_context(profiled(server.pid, output))
    return stack


def e2e(services: Services, args: argparse.Namespace, count: int) -> dict[str, Any]:
    database, servers = services.replicas(
        count, concurrency=args.concurrency, extra_env=dict(args.vts_env)
    )
    try:
        for server in servers:
            server.start()
        group = services.cpu(servers)
        group.start()
        own = own_cpu_seconds()
        with _profiled(servers, args, f"e2e-x{count}"):
            result = asyncio.run(
                e2e_multiplexed(servers, servers[0], args.jobs, args.in_flight)
            )
        result["cpu"] = {**group.stop(), "client": own_cpu_seconds() - own}
    finally:
        for server in servers:
            server.close()
    services.drop(database)
    return result


def notify_run(
    services: Services, args: argparse.Namespace, count: int, seed: int
) -> dict[str, Any]:
    """count 1: POST and watch on one replica; count 2: watch on A (--no-workers),
    POST to and run on B."""
    workers = [True] if count == 1 else [False, True]
    database, servers = services.replicas(
        count,
        concurrency=args.concurrency,
        sim=str(args.duration),
        workers=workers,
        extra_env=dict(args.vts_env),
    )
    try:
        for server in servers:
            server.start()
        group = services.cpu(servers)
        group.start()
        result = notify(servers[-1], servers[0], args.latency_jobs, args.window, seed)
        result["cpu"] = group.stop()
    finally:
        for server in servers:
            server.close()
    services.drop(database)
    result.update(quantiles(result["latencies_ms"]))
    return result


def submit(services: Services, args: argparse.Namespace, count: int) -> dict[str, Any]:
    """wrk against `count` --no-workers replicas (one wrk each, connections split)."""
    database, servers = services.replicas(
        count,
        concurrency=args.concurrency,
        workers=[False] * count,
        extra_env=dict(args.vts_env),
    )
    try:
        for server in servers:
            server.start()
        group = services.cpu(servers)
        group.start()
        per = args.connections // count
        commands = [
            [
                args.wrk,
                f"-t{max(1, args.threads // count)}",
                f"-c{per}",
                f"-d{args.wrk_seconds}s",
                "--latency",
                "-s",
                str(HERE / "post_translate.lua"),
                f"{server.url}/translate",
            ]
            for server in servers
        ]
        with _profiled(servers, args, f"submit-x{count}"):
            running = [
                subprocess.Popen(c, stdout=subprocess.PIPE, text=True) for c in commands
            ]
            outputs = [process.communicate(timeout=120)[0] for process in running]
        cpu = group.stop()
    finally:
        for server in servers:
            server.close()
    parsed = [parse_wrk(output) for output in outputs]
    rows = int(
        services.postgres.psql(
            "SELECT count(*) FROM jobs", database.rsplit("/", 1)[1]
        ).strip()
    )
    services.drop(database)
    requests = sum(p["requests"] for p in parsed)
    return {
        "rps": sum(p["rps"] for p in parsed),
        "p50": max(p["p50"] for p in parsed),
        "p99": max(p["p99"] for p in parsed),
        "ok": sum(p["ok"] for p in parsed),
        "non_2xx": sum(p["non_2xx"] for p in parsed),
        "errors": "; ".join(p["socket_errors"] for p in parsed),
        "rows": rows,
        "requests": requests,
        "cpu": cpu,
    }
