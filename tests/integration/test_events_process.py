"""GET /events across real `vts serve` processes: a consumer that reads part of the
stream, loses it, and resumes with Last-Event-ID after a `kill -9` (same SQLite
file) or on another replica (Postgres + Redis) sees every version of every job
once, contiguous from the first to the final one."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _postgres import PostgresServer
from _process import Spawn, VtsProcess, submit
from _servers import RedisServer
from _sse import Event, EventReader

pytestmark = pytest.mark.slow

JOBS = 8
FINAL = ("completed", "failed", "cancelled")
ENV = {
    "VTS_SIM_DURATION": "0.2-0.5",
    "VTS_SIM_ERROR_RATE": "0",
    "VTS_CONCURRENCY": "3",
    # A killed process's jobs are claimable again soon after the restart.
    "VTS_LEASE_SECONDS": "1",
    "VTS_SHUTDOWN_GRACE": "0",
}


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A session without a total timeout: streams outlive any; reads are bounded."""
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session


async def read_some(
    http: aiohttp.ClientSession, vts: VtsProcess, count: int
) -> list[Event]:
    """The first `count` events of the whole log; then the connection is dropped."""
    async with http.get(f"{vts.url}/events?last_event_id=0") as response:
        assert response.status == 200, vts.logs()
        reader = EventReader(response)
        events = []
        while len(events) < count:
            event = await reader.next(timeout=30)
            assert event is not None, vts.logs()
            events.append(event)
    return events


async def resume_until_final(
    http: aiohttp.ClientSession,
    vts: VtsProcess,
    last: Event,
    job_ids: list[str],
    timeout: float = 60,
) -> list[Event]:
    """Resume after `last` until every job of `job_ids` is final."""
    headers = {"Last-Event-ID": str(last.id)}
    pending = set(job_ids)
    events = []
    async with http.get(f"{vts.url}/events", headers=headers) as response:
        assert response.status == 200, vts.logs()
        reader = EventReader(response)
        while pending:
            event = await reader.next(timeout)
            assert event is not None, vts.logs()
            events.append(event)
            job = event.json()
            if job["status"] in FINAL:
                pending.discard(job["job_id"])
    return events


def assert_exactly_once(events: list[Event], job_ids: list[str]) -> None:
    """Every job's versions from 1 to its final one, each once, in order; ids
    increasing throughout."""
    assert all(e.event == "job" for e in events), [e.event for e in events]
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs)), seqs
    by_job: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        job = event.json()
        by_job.setdefault(job["job_id"], []).append(job)
    assert set(by_job) == set(job_ids)
    for job_id, versions in by_job.items():
        numbers = [job["version"] for job in versions]
        assert numbers == list(range(1, len(numbers) + 1)), (job_id, numbers)
        assert versions[-1]["status"] == "completed", versions[-1]


async def test_resume_after_kill_9_and_restart_misses_nothing_repeats_nothing(
    spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    vts = await spawn(ENV)
    job_ids = await submit(http, vts, JOBS)
    first = await read_some(http, vts, JOBS + 3)
    vts.kill()
    await vts.wait(10)
    again = await spawn(ENV)  # the same directory: the same SQLite file
    rest = await resume_until_final(http, again, first[-1], job_ids)
    assert_exactly_once(first + rest, job_ids)


async def test_a_stream_ends_cleanly_when_the_server_shuts_down(
    spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    vts = await spawn(ENV)
    async with http.get(f"{vts.url}/events") as response:
        reader = EventReader(response)
        vts.terminate()
        assert await reader.next(timeout=10) is None  # the end, not an error
    assert await vts.wait(10) == 0


@pytest.fixture
def replica_env(
    postgres_server: PostgresServer, redis_server: RedisServer
) -> dict[str, str]:
    redis_server.flushdb()
    database = postgres_server.create_database(f"sse_{uuid.uuid4().hex}")
    return {**ENV, "VTS_DATABASE_URL": database, "VTS_REDIS_URL": redis_server.url}


@pytest.mark.services
async def test_resume_on_another_replica_after_kill_9_misses_nothing(
    tmp_path: Path, replica_env: dict[str, str], http: aiohttp.ClientSession
) -> None:
    async with (
        VtsProcess(tmp_path, replica_env) as a,
        VtsProcess(tmp_path, replica_env) as b,
    ):
        job_ids = await submit(http, a, JOBS // 2) + await submit(http, b, JOBS // 2)
        first = await read_some(http, a, JOBS + 3)
        a.kill()
        await asyncio.to_thread(a.close)
        rest = await resume_until_final(http, b, first[-1], job_ids)
        assert_exactly_once(first + rest, job_ids)
        assert not b.error_lines(), b.logs()


@pytest.mark.services
async def test_a_replica_running_no_jobs_streams_the_others_live(
    tmp_path: Path, replica_env: dict[str, str], http: aiohttp.ClientSession
) -> None:
    """Woken through the Redis relay: each event within a read's bound, far below
    the heartbeat that would otherwise re-read the log."""
    async with (
        VtsProcess(tmp_path, replica_env) as worker,
        VtsProcess(tmp_path, replica_env, ["--no-workers"]) as api,
    ):
        job_ids = await submit(http, api, JOBS)
        first = await read_some(http, worker, 3)
        rest = await resume_until_final(http, api, first[-1], job_ids, timeout=5)
        assert_exactly_once(first + rest, job_ids)
