"""SQLite job store (aiosqlite, WAL) with group commit: one transaction per batch of writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import aiosqlite

from vts.config import Settings
from vts.errors import ConfigError, StoreUnavailableError
from vts.stores import migrations
from vts.stores.batching import BatchedWrites, Op, WriteBatcher
from vts.stores.sqlite_events import SqliteEvents
from vts.stores.sqlite_keys import SqliteKeys
from vts.stores.sqlite_outbox import SqliteOutbox
from vts.stores.sqlite_reads import SqliteReads
from vts.stores.sqlite_space import DiskSpace, WalBudget, not_writable, probe
from vts.stores.sqlite_writes import write_batch
from vts.stores.write_health import WriteHealth

log = logging.getLogger(__name__)

MAX_BATCH = 512


def sqlite_path(url: str) -> str:
    """`sqlite:///./vts.db` -> `./vts.db`; `sqlite:////var/lib/vts.db` -> `/var/lib/vts.db`."""
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc:
        raise ConfigError(
            f"VTS_DATABASE_URL={url!r} is not valid: expected sqlite:///relative/path.db "
            "or sqlite:////absolute/path.db"
        )
    path = unquote(parts.path)[1:]
    if not path:
        raise ConfigError(f"VTS_DATABASE_URL={url!r} names no database file")
    return path


_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    # FULL: a 202 means the job survives a power cut.
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
)
T = TypeVar("T")


@contextlib.asynccontextmanager
async def _driver_errors(path: str) -> AsyncIterator[None]:
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise (
            not_writable(exc, path)
            or StoreUnavailableError(f"SQLite store failed: {exc}")
        ) from exc
    except ValueError as exc:
        # aiosqlite raises ValueError once its connection thread has stopped.
        raise StoreUnavailableError(f"SQLite store failed: {exc}") from exc


class SqliteJobStore(
    SqliteKeys, SqliteEvents, SqliteOutbox, SqliteReads, BatchedWrites
):
    """Jobs in one SQLite file. Single process: several processes need Postgres."""

    def __init__(self, path: str) -> None:
        self.path = path
        # Writes: one sqlite3 connection on one thread of our own, so a whole group
        # commit is a single hop off the event loop (aiosqlite would take one per
        # statement). Reads: aiosqlite, never queued behind writes (WAL).
        self._writer: sqlite3.Connection | None = None
        self._write_thread: ThreadPoolExecutor | None = None
        self._reader: aiosqlite.Connection | None = None
        self._space = DiskSpace(path)
        self._wal = WalBudget(self._space)
        health = WriteHealth(self._probe, self._space.has_room)
        self._batcher = WriteBatcher(self._write_batch, MAX_BATCH, health)

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._write_thread = ThreadPoolExecutor(
            1, thread_name_prefix="vts-sqlite-writer"
        )
        async with self._errors():
            self._writer = await self._in_writer(self._connect_writer)
            self._reader = await self._connect()
        full = self._space.nearly_full()
        if full is not None:  # start degraded: serve reads, write once there is room
            self._batcher.health.failed(full)
        self._batcher.start()

    def _errors(self) -> contextlib.AbstractAsyncContextManager[None]:
        return _driver_errors(self.path)

    def _connect_writer(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        return conn

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        if self._write_thread is None:
            raise StoreUnavailableError("the SQLite store is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_thread, fn, *args)

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None)
        for pragma in _PRAGMAS:
            await conn.execute(pragma)
        return conn

    async def close(self) -> None:
        await self._batcher.stop()
        if self._reader is not None:
            await self._reader.close()
        writer, self._writer = self._writer, None
        if writer is not None:
            await self._in_writer(writer.close)
        if self._write_thread is not None:
            self._write_thread.shutdown(wait=True)
        self._reader = None
        self._write_thread = None

    @property
    def _w(self) -> sqlite3.Connection:
        if self._writer is None:
            raise StoreUnavailableError("the SQLite store is not open")
        return self._writer

    @property
    def _r(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreUnavailableError("the SQLite store is not open")
        return self._reader

    async def migrate(self) -> list[str]:
        async with self._errors():
            applied = await self._in_writer(self._migrate, self._w)
        if applied:
            log.info("applied SQLite migrations: %s", ", ".join(applied))
        return applied

    @staticmethod
    def _migrate(conn: sqlite3.Connection) -> list[str]:
        applied: list[str] = []
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(migrations.SCHEMA_TABLE_SQL["sqlite"])
            done = {r[0] for r in conn.execute(migrations.APPLIED_SQL)}
            for migration in migrations.pending("sqlite", done):
                for statement in migration.statements:
                    conn.execute(statement)
                conn.execute(
                    migrations.RECORD_SQL["sqlite"],
                    (migration.name, datetime.now(UTC).isoformat()),
                )
                applied.append(migration.name)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return applied

    async def ping(self) -> None:
        """The store answers reads, and can write (see WriteHealth)."""
        async with self._errors():
            await self._r.execute_fetchall("SELECT 1")
        await self._batcher.health.check()

    # --- writes: queued by BatchedWrites, committed here in batches -------------

    async def _write_batch(self, ops: list[Op]) -> None:
        async with self._errors():
            await self._in_writer(self._commit, self._w, ops)

    def _commit(self, conn: sqlite3.Connection, ops: list[Op]) -> None:
        self._wal.fit(conn)
        write_batch(conn, ops)

    async def _probe(self) -> None:
        async with self._errors():
            await self._in_writer(probe, self._w)


def create_store(url: str, settings: Settings) -> SqliteJobStore:
    """Entry point `sqlite`: `sqlite:///relative.db` or `sqlite:////absolute.db`."""
    return SqliteJobStore(sqlite_path(url))
