"""The soak's faults (kill -9, SIGTERM, a Redis restart) and the RSS of every vts
process, sampled per process lifetime (a restart is a new process, a new series)."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import re
import time
from dataclasses import dataclass

from _harness import Server
from _services import RedisServer

KILL, TERM, REDIS = "kill -9", "SIGTERM", "redis restart"
RSS_EVERY = 5.0  # seconds between RSS samples
LOG_LINE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) (\S+): (.*)$")


@dataclass
class Fault:
    at: float  # seconds since the soak started
    kind: str
    target: str
    detail: str
    seconds: float  # from the fault to the target serving again


@dataclass
class RssSample:
    at: float  # seconds since the soak started
    replica: int
    pid: int
    kib: int


class Cluster:
    """The vts replicas (and, on the Postgres profile, the redis-server) under test.

    `inject` blocks (it waits for the restart): run it in a thread."""

    def __init__(
        self,
        servers: list[Server],
        redis: RedisServer | None,
        t0: float,
        redis_outage: tuple[float, float],
    ) -> None:
        self.servers = servers
        self.redis = redis
        self.t0 = t0
        self.redis_outage = redis_outage
        self.samples: list[RssSample] = []

    def urls(self) -> list[str]:
        return [server.url for server in self.servers]

    def ws_urls(self) -> list[str]:
        return [server.ws_url for server in self.servers]

    def kinds(self) -> list[str]:
        return [KILL, TERM] + ([REDIS] if self.redis is not None else [])

    def inject(self, kind: str, replica: int, rng: random.Random) -> Fault:
        at = time.monotonic()
        if kind == REDIS:
            assert self.redis is not None
            outage = rng.uniform(*self.redis_outage)
            self.redis.stop()
            time.sleep(outage)  # Redis stays away this long
            self.redis.start()
            target, detail = "redis-server", f"down {outage:.1f} s"
        else:
            server = self.servers[replica]
            old = server.pid
            if kind == KILL:
                server.kill()
            else:
                server.stop()  # SIGTERM: vts drains, then exits
            stopped = time.monotonic() - at
            server.start()
            target = f"r{replica + 1}"
            detail = f"pid {old} -> {server.pid}, exited after {stopped:.1f} s"
        return Fault(at - self.t0, kind, target, detail, time.monotonic() - at)

    def sample_rss(self) -> None:
        now = time.monotonic() - self.t0
        for index, server in enumerate(self.servers):
            # A process being restarted has no pid yet, or no VmRSS (a zombie).
            with contextlib.suppress(OSError, RuntimeError, AssertionError):
                pid = server.pid
                self.samples.append(RssSample(now, index, pid, server.rss_kib()))

    def log_summary(self) -> collections.Counter[str]:
        """WARNING and worse lines of every replica's log (all its lifetimes), by
        level, logger and message with numbers and ids blanked; tracebacks too."""
        seen: collections.Counter[str] = collections.Counter()
        for index, server in enumerate(self.servers):
            for line in server.log_tail(size=1 << 30).splitlines():
                match = LOG_LINE.match(line)
                if match:
                    level, logger, message = match.groups()
                    message = re.sub(r"[0-9a-f-]{36}|\d+(\.\d+)?", "#", message)
                    seen[f"r{index + 1} {level} {logger}: {message[:140]}"] += 1
                elif line.startswith("Traceback"):
                    seen[f"r{index + 1} Traceback"] += 1
        return seen


async def inject_faults(
    cluster: Cluster,
    interval: tuple[float, float],
    stop: asyncio.Event,
    rng: random.Random,
) -> list[Fault]:
    """A random fault on a random replica every `interval` seconds (uniform) until
    `stop`; a fault under way when `stop` is set finishes first (restart included)."""
    faults: list[Fault] = []
    while interval[1] > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), rng.uniform(*interval))
            return faults
        kind = rng.choice(cluster.kinds())
        replica = rng.randrange(len(cluster.servers))
        fault = await asyncio.to_thread(cluster.inject, kind, replica, rng)
        faults.append(fault)
        print(
            f"  [{fault.at:6.1f} s] {fault.kind} {fault.target}: {fault.detail}; "
            f"serving again after {fault.seconds:.1f} s",
            flush=True,
        )
    return faults


async def sample_rss(cluster: Cluster) -> None:
    """Sample every replica's RSS each RSS_EVERY seconds until cancelled."""
    while True:
        cluster.sample_rss()
        await asyncio.sleep(RSS_EVERY)
