"""The image against a Postgres and a redis-server on the host: the hook Job, then serve."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis
from _container import Container, run_once
from _engine import Engine
from _postgres import PostgresServer
from _servers import RedisServer
from test_image_serve import QUICK, follow, submit


async def test_migrate_then_serve_with_postgres_and_redis_on_the_host(
    engine: Engine,
    image: str,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    http: aiohttp.ClientSession,
) -> None:
    database = postgres_server.create_database("vts_image")
    store = {"VTS_DATABASE_URL": database}

    # The chart's pre-install/pre-upgrade hook Job: `vts migrate`, twice (an upgrade).
    for _ in range(2):
        code, output = run_once(engine, image, store, ["vts", "migrate"])
        assert code == 0, output
    tables = postgres_server.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", "vts_image"
    ).split()
    assert "jobs" in tables, tables

    vts = Container(
        engine, image, {**QUICK, **store, "VTS_REDIS_URL": redis_server.url}
    )
    await vts.healthy(http)
    async with http.get(f"{vts.url}/readyz") as response:
        ready = await response.json()
    assert ready == {"status": "ready", "checks": {"store": "ok", "broker": "ok"}}
    assert "PostgresJobStore" in vts.logs() and "RedisBroker" in vts.logs()

    job_id = await submit(http, vts)
    await follow(http, vts, job_id, "completed")
    row = postgres_server.psql(
        f"SELECT status FROM jobs WHERE job_id = '{job_id}'", "vts_image"
    ).strip()
    assert row == "completed"
    client = aioredis.from_url(redis_server.url)
    try:
        clients = await client.client_list()
    finally:
        await client.aclose()
    assert len(clients) > 1, "vts holds connections to the host's redis-server"
