"""Several `vts serve` replicas on one Postgres and one Redis: shared work, shared events."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _postgres import PostgresServer
from _process import SEED_BODY, VtsProcess
from _servers import RedisServer
from _support import wait_until

pytestmark = [pytest.mark.services, pytest.mark.slow]

FINISHED = re.compile(r'^vts_jobs_finished_total\{status="completed"\} (\S+)$', re.M)


def replica_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {
        "VTS_DATABASE_URL": database_url,
        "VTS_REDIS_URL": redis_url,
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_LOG_LEVEL": "INFO",
        **extra,
    }


@pytest.fixture
def database_url(postgres_server: PostgresServer) -> str:
    return postgres_server.create_database(f"replicas_{uuid.uuid4().hex}")


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flushdb()
    return redis_server.url


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def post_job(http: aiohttp.ClientSession, replica: VtsProcess) -> str:
    async with http.post(f"{replica.url}/translate", json=SEED_BODY) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["job_id"])


async def get_job(
    http: aiohttp.ClientSession, replica: VtsProcess, job_id: str
) -> dict[str, Any]:
    async with http.get(f"{replica.url}/jobs/{job_id}") as response:
        assert response.status == 200, await response.text()
        job: dict[str, Any] = await response.json()
        return job


async def completed_here(http: aiohttp.ClientSession, replica: VtsProcess) -> float:
    async with http.get(f"{replica.url}/metrics") as response:
        match = FINISHED.search(await response.text())
    return float(match.group(1)) if match else 0.0


class Watcher:
    """A /ws/jobs client that records every job message, per job."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            data = msg.json()
            if data.get("type") == "job":
                self.messages.setdefault(data["job_id"], []).append(data)

    async def subscribe(self, job_ids: list[str]) -> None:
        await self.ws.send_json({"type": "subscribe", "job_ids": job_ids})
        await wait_until(
            lambda: all(i in self.messages for i in job_ids), 10, message="snapshots"
        )

    def final(self, job_id: str) -> str | None:
        seen = self.messages.get(job_id)
        return seen[-1]["status"] if seen else None

    def assert_in_order(self, job_id: str) -> None:
        versions = [m["version"] for m in self.messages[job_id]]
        assert versions == sorted(set(versions)), f"{job_id}: {versions}"

    async def close(self) -> None:
        await self.ws.close()
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


async def test_replicas_share_jobs_and_each_watcher_sees_every_change(
    tmp_path: Path, database_url: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    env = replica_env(
        database_url, redis_url, VTS_SIM_DURATION="0.2-0.4", VTS_CONCURRENCY="2"
    )
    async with VtsProcess(tmp_path, env) as a, VtsProcess(tmp_path, env) as b:
        watcher = Watcher(await http.ws_connect(f"{a.ws_url}/ws/jobs"))
        try:
            ids = [await post_job(http, b) for _ in range(16)]
            await watcher.subscribe(ids)
            await wait_until(
                lambda: all(watcher.final(i) == "completed" for i in ids),
                30,
                message="every job completed, as seen from the other replica",
            )
            for job_id in ids:
                watcher.assert_in_order(job_id)
        finally:
            await watcher.close()
        done_a, done_b = await completed_here(http, a), await completed_here(http, b)
        assert done_a + done_b == len(ids)
        assert done_a > 0 and done_b > 0, "both replicas should have taken work"


async def test_replica_killed_mid_job_leaves_its_jobs_to_the_survivor(
    tmp_path: Path, database_url: str, redis_url: str, http: aiohttp.ClientSession
) -> None:
    env = replica_env(
        database_url,
        redis_url,
        VTS_SIM_DURATION="1.5-2",
        VTS_CONCURRENCY="4",
        VTS_LEASE_SECONDS="1",
        # One attempt each, and none fails: the kill must not use it.
        VTS_MAX_ATTEMPTS="1",
    )
    async with (
        VtsProcess(tmp_path, env) as victim,
        VtsProcess(tmp_path, env) as survivor,
    ):
        ids = [await post_job(http, victim) for _ in range(8)]

        async def victim_is_busy() -> bool:
            jobs = [await get_job(http, survivor, i) for i in ids]
            return sum(j["status"] == "processing" for j in jobs) >= 6

        await wait_until(victim_is_busy, 15, message="both replicas processing")
        victim.kill()

        async def all_completed() -> bool:
            jobs = [await get_job(http, survivor, i) for i in ids]
            return all(j["status"] == "completed" for j in jobs)

        await survivor.until(all_completed, 30, "every job completed by the survivor")
        jobs = [await get_job(http, survivor, i) for i in ids]
        assert any(j["lease_losses"] >= 1 for j in jobs), "the victim's were reclaimed"
        assert all(j["attempts"] == 1 for j in jobs), jobs


async def test_redis_restart_keeps_api_serving_and_watchers_catch_up(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    with RedisServer() as redis:
        env = replica_env(
            database_url, redis.url, VTS_SIM_DURATION="1.5", VTS_CONCURRENCY="1"
        )
        async with (
            VtsProcess(tmp_path, env, ["--no-workers"]) as front,
            VtsProcess(tmp_path, env) as worker,
        ):
            watcher = Watcher(await http.ws_connect(f"{front.ws_url}/ws/jobs"))
            try:
                job_id = await post_job(http, front)
                await watcher.subscribe([job_id])
                await wait_until(lambda: watcher.final(job_id) == "processing", 10)
                redis.stop()
                # The API keeps answering from the store; writes go on.
                second = await post_job(http, front)
                assert (await get_job(http, front, second))["status"] == "pending"
                assert (await get_job(http, worker, job_id))["job_id"] == job_id
                await worker.until(
                    lambda: _status_is(http, worker, job_id, "completed"),
                    15,
                    "job done",
                )
                redis.start()
                # The front replica missed the relay; it re-reads watched jobs once
                # its subscription is back, so the watcher learns the outcome.
                await front.until(
                    lambda: watcher.final(job_id) == "completed", 15, "watcher resynced"
                )
                watcher.assert_in_order(job_id)
                await worker.until(
                    lambda: _status_is(http, front, second, "completed"),
                    15,
                    "second job",
                )
            finally:
                await watcher.close()


async def test_dead_letters_written_while_redis_is_down_appear_when_it_is_back(
    tmp_path: Path, database_url: str, http: aiohttp.ClientSession
) -> None:
    with RedisServer() as redis:
        env = replica_env(
            database_url,
            redis.url,
            VTS_SIM_DURATION="0",
            VTS_SIM_ERROR_RATE="1",
            VTS_MAX_ATTEMPTS="1",
        )
        async with VtsProcess(tmp_path, env) as vts:
            redis.stop()
            job_id = await post_job(http, vts)
            await vts.until(
                lambda: _status_is(http, vts, job_id, "failed"), 15, "failed"
            )
            # With Redis away, the DLQ view falls back to the store.
            assert job_id in await _dlq_ids(http, vts)
            redis.start()
            client = aiohttp_redis(redis.url)
            try:
                await vts.until(
                    lambda: _in_broker_dlq(client, job_id), 15, "DLQ entry in Redis"
                )
            finally:
                await client.aclose()
            assert job_id in await _dlq_ids(http, vts)


async def test_postgres_restart_fails_fast_then_recovers(
    tmp_path: Path, http: aiohttp.ClientSession, redis_url: str
) -> None:
    with PostgresServer() as pg:
        env = replica_env(
            pg.url, redis_url, VTS_SIM_DURATION="0.5", VTS_LEASE_SECONDS="4"
        )
        async with VtsProcess(tmp_path, env) as vts:
            before = await post_job(http, vts)
            pg.stop()
            timeout = aiohttp.ClientTimeout(total=10)
            async with http.post(
                f"{vts.url}/translate", json=SEED_BODY, timeout=timeout
            ) as r:
                assert r.status == 503
                assert r.headers["Content-Type"].startswith("application/problem+json")
                assert r.headers.get("Retry-After")
            async with http.get(f"{vts.url}/readyz") as r:
                assert r.status == 503
            pg.start()
            await vts.until(
                lambda: _accepts(http, vts), 20, "POST /translate accepted again"
            )
            await vts.until(
                lambda: _status_is(http, vts, before, "completed"),
                20,
                "the earlier job done",
            )
            async with http.get(f"{vts.url}/jobs", params={"status": "pending"}) as r:
                pending = (await r.json())["jobs"]

            unfinished: list[dict[str, Any]] = []

            async def nothing_stuck() -> bool:
                async with http.get(f"{vts.url}/jobs", params={"limit": "100"}) as r:
                    jobs = (await r.json())["jobs"]
                unfinished[:] = [j for j in jobs if j["status"] != "completed"]
                return not unfinished

            try:
                await vts.until(nothing_stuck, 20, "no job stuck")
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\npending were {pending}; now {unfinished}"
                ) from None
            # Driver errors during the restart are outages, not crashes of a loop.
            assert not [line for line in vts.error_lines() if "crashed" in line]


async def _status_is(
    http: aiohttp.ClientSession, replica: VtsProcess, job_id: str, status: str
) -> bool:
    return (await get_job(http, replica, job_id))["status"] == status


async def _accepts(http: aiohttp.ClientSession, replica: VtsProcess) -> bool:
    async with http.post(f"{replica.url}/translate", json=SEED_BODY) as response:
        return response.status == 202


async def _dlq_ids(http: aiohttp.ClientSession, replica: VtsProcess) -> list[str]:
    async with http.get(f"{replica.url}/dlq") as response:
        assert response.status == 200
        return [job["job_id"] for job in (await response.json())["jobs"]]


def aiohttp_redis(url: str) -> Any:
    import redis.asyncio as aioredis

    return aioredis.Redis.from_url(url)


async def _in_broker_dlq(client: Any, job_id: str) -> bool:
    try:
        return await client.zscore("vts:dlq", job_id) is not None
    except Exception:
        return False
