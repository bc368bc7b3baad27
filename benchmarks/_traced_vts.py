"""`vts serve` with timing probes on the completion path (the benchmarks' --trace)."""

# The probes wrap vts functions from outside (vts/ is unchanged) and write one JSON file
# to $BENCH_TRACE_FILE at exit: per completed job, when its Succeed was applied, when
# the group commit holding it started and ended, when the worker resumed and when the
# completed frame was handed to the socket; plus event-loop lag samples, every broker
# cache flush, and every group commit with its count of trips to the store's threads
# (the SQLite writer thread, `_in_writer`, or aiosqlite's, whichever the store uses).

from __future__ import annotations

import asyncio
import atexit
import os
import sys
import time
from typing import Any

import aiosqlite
import orjson
from aiohttp import web

from vts import cli
from vts.brokers.redis import RedisBroker
from vts.domain import JobStatus, Succeed
from vts.service import JobService
from vts.stores.batching import UpdateOp
from vts.stores.sqlite import SqliteJobStore

LAG_PERIOD = 0.001
jobs: dict[str, dict[str, float]] = {}
lags: list[float] = []
flushes: list[tuple[int, float]] = []
batches: list[tuple[int, float, int]] = []  # (ops, seconds, aiosqlite hops)
hops = 0

_execute = aiosqlite.Connection._execute
_in_writer = getattr(SqliteJobStore, "_in_writer", None)
_advance = JobService.advance
_write_batch = SqliteJobStore._write_batch
_send_frame = web.WebSocketResponse.send_frame
_cache_set_many = RedisBroker.cache_set_many
_start = JobService.__init__


async def advance(self: JobService, job: Any, event: Any) -> Any:
    if not isinstance(event, Succeed):
        return await _advance(self, job, event)
    record = jobs.setdefault(job.job_id, {})
    record["enter"] = time.time()
    new = await _advance(self, job, event)
    record["resumed"] = time.time()
    return new


async def execute(
    self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any
) -> Any:
    """Every aiosqlite call is one trip to its thread and back: count them."""
    global hops
    hops += 1
    return await _execute(self, fn, *args, **kwargs)


async def in_writer(self: SqliteJobStore, fn: Any, *args: Any) -> Any:
    """One trip to the store's own writer thread (vts after eb31197)."""
    global hops
    hops += 1
    assert _in_writer is not None
    return await _in_writer(self, fn, *args)


async def write_batch(self: SqliteJobStore, ops: list[Any]) -> None:
    started, hops_before = time.time(), hops
    await _write_batch(self, ops)
    ended = time.time()
    batches.append((len(ops), ended - started, hops - hops_before))
    for op in ops:
        if isinstance(op, UpdateOp) and op.job.status is JobStatus.COMPLETED:
            record = jobs.setdefault(op.job.job_id, {})
            record.update(batch_start=started, batch_end=ended, batch_size=len(ops))


async def send_frame(self: web.WebSocketResponse, message: bytes, *args: Any) -> None:
    if b'"status":"completed"' in message:
        record = jobs.setdefault(orjson.loads(message)["job_id"], {})
        record.setdefault("send", time.time())
    await _send_frame(self, message, *args)


async def cache_set_many(self: RedisBroker, snapshots: Any) -> None:
    started = time.perf_counter()
    await _cache_set_many(self, snapshots)
    flushes.append((len(snapshots), time.perf_counter() - started))


async def _watch_lag() -> None:
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + LAG_PERIOD
        await asyncio.sleep(LAG_PERIOD)
        lags.append(loop.time() - due)


def start(self: JobService, *args: Any, **kwargs: Any) -> None:
    _start(self, *args, **kwargs)
    task = asyncio.get_running_loop().create_task(_watch_lag())
    self._trace_lag_task = task  # type: ignore[attr-defined]


def _dump() -> None:
    path = os.environ.get("BENCH_TRACE_FILE")
    if path:
        trace = {"jobs": jobs, "lags": lags, "flushes": flushes, "batches": batches}
        with open(path, "wb") as out:
            out.write(orjson.dumps(trace))


JobService.advance = advance  # type: ignore[method-assign]
JobService.__init__ = start  # type: ignore[method-assign]
SqliteJobStore._write_batch = write_batch  # type: ignore[method-assign]
web.WebSocketResponse.send_frame = send_frame  # type: ignore[method-assign]
RedisBroker.cache_set_many = cache_set_many  # type: ignore[method-assign]
aiosqlite.Connection._execute = execute  # type: ignore[method-assign]
if _in_writer is not None:
    SqliteJobStore._in_writer = in_writer  # type: ignore[method-assign]
atexit.register(_dump)

if __name__ == "__main__":
    sys.exit(cli.main())
