"""One peer (arq or SAQ) measured on the shared redis-server: peers.py and
scale_out.py."""

from __future__ import annotations

import argparse
from typing import Any

from _peer_targets import run_peer
from _services import Services


def measure_peer(
    name: str, test: str, services: Services, args: argparse.Namespace, seed: int
) -> dict[str, Any]:
    if test == "throughput":
        load = ["--jobs", str(args.jobs), "--in-flight", str(args.in_flight)]
    else:
        load = ["--jobs", str(args.latency_jobs), "--window", str(args.window)]
        load += ["--duration", str(args.duration), "--seed", str(seed)]
    return run_peer(
        name, test, services.redis, args.peer_python, args.concurrency, load
    )
