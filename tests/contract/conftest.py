"""Contract fixtures: `store` and `broker`, one body run against every backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _postgres import PostgresServer
from _servers import RedisServer
from _support import opened_store

from vts.brokers.redis import create_broker
from vts.config import Settings
from vts.ports import Broker, JobStore


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
def store_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Settings naming an empty store of the param's backend: a new SQLite file.

    `store` opens it; a test that reopens the store (a restart) builds another one
    from the same settings. Each backend is one param here (a `postgresql` one
    marked `services` would clone a fresh database), so every `store` test runs
    once per backend.
    """
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres_server")
        return Settings(database_url=server.create_database(f"t_{uuid.uuid4().hex}"))
    return Settings(database_url=f"sqlite:///{tmp_path / 'jobs.db'}")


@pytest.fixture
async def store(store_settings: Settings) -> AsyncIterator[JobStore]:
    """An open, migrated job store, built through the plugin registry."""
    async with opened_store(store_settings) as store:
        yield store


@pytest.fixture(
    params=[
        pytest.param("fakeredis", id="fakeredis"),
        pytest.param("redis", id="redis", marks=pytest.mark.services),
    ]
)
async def broker(request: pytest.FixtureRequest) -> AsyncIterator[Broker]:
    """An open broker on an empty backend: a new FakeServer or a flushed Redis db."""
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        server.flushdb()
        url = server.url
    else:
        url = "fakeredis://"
    broker = create_broker(url, Settings())
    await broker.open()
    try:
        yield broker
    finally:
        await broker.close()
