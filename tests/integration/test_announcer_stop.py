"""Stopping the announcer writes what it has queued: a batch a flush has taken (the
finals of a drain) still reaches the relay, the cache and the dead-letter queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import attrs
import pytest
from _servers import RedisServer
from _support import T0, make_job, wait_until

from vts.brokers.redis import create_broker
from vts.config import Settings
from vts.domain import JobStatus
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.metrics import Metrics
from vts.ports import Broker
from vts.snapshot import Snapshot


class HeldBroker:
    """The real broker; its first write waits for `release` (a write in flight)."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self._broker, name)

    async def _hold(self) -> None:
        if not self.writing.is_set():
            self.writing.set()
            await self.release.wait()

    async def cache_set_many(self, *args: Any) -> None:
        await self._hold()
        await self._broker.cache_set_many(*args)

    async def dlq_add(self, *args: Any) -> None:
        await self._hold()
        await self._broker.dlq_add(*args)


pytestmark = pytest.mark.services


@pytest.fixture
async def brokers(redis_server: RedisServer) -> AsyncIterator[tuple[Broker, ...]]:
    """Two open brokers on one Redis (only a shared broker is written): the
    announcer's and another replica's."""
    redis_server.flushdb()
    pair = [create_broker(redis_server.url, Settings()) for _ in range(2)]
    for broker in pair:
        await broker.open()
    try:
        yield tuple(pair)
    finally:
        for broker in pair:
            await broker.close()


async def test_stop_finishes_the_flush_in_flight(brokers: tuple[Broker, ...]) -> None:
    broker, listener = brokers
    held = HeldBroker(broker)
    relayed: list[bytes] = []
    live = asyncio.Event()

    async def listen() -> None:
        async for payload in listener.subscribe():
            if payload:
                relayed.append(payload)
            else:
                live.set()

    listening = asyncio.create_task(listen())
    await asyncio.wait_for(live.wait(), 10)
    announcer = Announcer(EventHub(), held, Metrics(), "stopping")  # type: ignore[arg-type]
    await announcer.start()
    job = make_job(status=JobStatus.FAILED, completed_at=T0, version=4)
    snapshot = Snapshot.of(job)
    announcer.announce(job, JobStatus.PROCESSING, snapshot)
    await asyncio.wait_for(held.writing.wait(), 10)
    # The write answers once stop() has begun (the old stop cancelled it there).
    asyncio.get_running_loop().call_soon(held.release.set)
    await asyncio.wait_for(announcer.stop(), 10)
    try:
        assert await broker.dlq_list(10) == [snapshot.body]
        assert await broker.cache_get(job.job_id) == snapshot.framed()
        # Published before stop() returned; only its delivery is awaited, with
        # the usual 10 s bound (the relay promises no latency).
        await wait_until(
            lambda: any(snapshot.framed() in payload for payload in relayed),
            message="the final relayed to the other replica",
        )
    finally:
        listening.cancel()
        await asyncio.gather(listening, return_exceptions=True)


async def test_stop_does_not_wait_for_a_broker_that_hangs(
    brokers: tuple[Broker, ...],
) -> None:
    held = HeldBroker(brokers[0])
    announcer = Announcer(EventHub(), held, Metrics(), "stopping")  # type: ignore[arg-type]
    await announcer.start()
    failed = attrs.evolve(make_job(), status=JobStatus.FAILED)
    announcer.announce(failed, None, Snapshot.of(failed))
    await asyncio.wait_for(held.writing.wait(), 10)
    # held.release is never set: the write hangs
    await asyncio.wait_for(announcer.stop(timeout=0.1), 10)
