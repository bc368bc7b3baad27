"""Contract fixtures: `broker` is one body run against fakeredis and a real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from _servers import RedisServer

from vts.brokers.redis import create_broker
from vts.config import Settings
from vts.ports import Broker


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
