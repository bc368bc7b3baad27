"""The Broker contract: one suite, run against every broker backend."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from _servers import RedisServer, free_port
from _support import wait_until

from vts.brokers.redis import create_broker
from vts.config import Settings
from vts.errors import BrokerUnavailableError
from vts.ports import Broker


class Subscriber:
    """Runs `broker.subscribe()` in a task and records what arrives."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.received: list[bytes] = []
        self.subscribed = asyncio.Event()
        self.task = asyncio.create_task(self._consume())

    async def _consume(self) -> None:
        async for payload in self.broker.subscribe():
            if payload == b"":
                self.subscribed.set()
            else:
                self.received.append(payload)

    async def live(self) -> Subscriber:
        """Wait for the subscription's empty "live" payload: everything published
        afterwards reaches this subscriber."""
        waiter = asyncio.create_task(self.subscribed.wait())
        done, _ = await asyncio.wait(
            {waiter, self.task}, timeout=10, return_when="FIRST_COMPLETED"
        )
        if self.task in done:
            waiter.cancel()
            self.task.result()  # re-raise what ended the subscription
        assert waiter in done, "subscription did not become live within 10 s"
        return self

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


@pytest.fixture
async def subscriber(broker: Broker) -> AsyncIterator[Subscriber]:
    """A live subscriber of `broker`, stopped after the test."""
    sub = Subscriber(broker)
    try:
        yield await sub.live()
    finally:
        await sub.stop()


async def test_ping_answers(broker: Broker) -> None:
    await broker.ping()


async def test_cache_get_misses_unknown_job(broker: Broker) -> None:
    assert await broker.cache_get("nope") is None


async def test_cache_set_many_round_trips(broker: Broker) -> None:
    await broker.cache_set_many([("a", 1, b'{"id":"a"}'), ("b", 1, b'{"id":"b"}')])

    assert await broker.cache_get("a") == b'{"id":"a"}'
    assert await broker.cache_get("b") == b'{"id":"b"}'
    assert await broker.cache_get("c") is None


async def test_cache_set_many_overwrites_older_version(broker: Broker) -> None:
    await broker.cache_set_many([("a", 1, b"v1")])
    await broker.cache_set_many([("a", 2, b"v2")])

    assert await broker.cache_get("a") == b"v2"


@pytest.mark.services
async def test_shared_cache_never_regresses_a_newer_version(
    redis_server: RedisServer,
) -> None:
    """Replicas flush out of order; a cache shared by replicas keeps the newest version
    it was given. (An in-process broker has one writer, which flushes in order.)"""
    redis_server.flushdb()
    broker = create_broker(redis_server.url, Settings())
    await broker.open()
    try:
        await broker.cache_set_many([("a", 5, b"v5")])
        await broker.cache_set_many([("a", 4, b"v4"), ("a", 3, b"v3")])

        assert await broker.cache_get("a") == b"v5"
    finally:
        await broker.close()


async def test_cache_set_many_accepts_empty_batch(broker: Broker) -> None:
    await broker.cache_set_many([])

    assert await broker.cache_get("a") is None


async def test_cache_set_many_writes_large_batch(broker: Broker) -> None:
    snapshots = [(f"job-{i}", i + 1, f"snapshot {i}".encode()) for i in range(2000)]

    await broker.cache_set_many(snapshots)

    for job_id, _, snapshot in snapshots[::97] + snapshots[-1:]:
        assert await broker.cache_get(job_id) == snapshot


async def test_cache_set_many_keeps_bytes_unchanged(broker: Broker) -> None:
    snapshot = "ü 字幕 🎬".encode() + bytes(range(256))

    await broker.cache_set_many([("bin", 1, snapshot)])

    assert await broker.cache_get("bin") == snapshot


async def test_cache_delete_many_forgets_snapshots(broker: Broker) -> None:
    await broker.cache_set_many([("a", 1, b"x"), ("b", 1, b"y"), ("c", 1, b"z")])

    await broker.cache_delete_many(["a", "c"])

    assert await broker.cache_get("a") is None
    assert await broker.cache_get("b") == b"y"
    assert await broker.cache_get("c") is None


async def test_cache_delete_many_ignores_unknown_jobs_and_empty_lists(
    broker: Broker,
) -> None:
    await broker.cache_set_many([("a", 1, b"x")])

    await broker.cache_delete_many(["nope", "also-not"])
    await broker.cache_delete_many([])

    assert await broker.cache_get("a") == b"x"


async def test_dlq_starts_empty(broker: Broker) -> None:
    assert await broker.dlq_size() == 0
    assert await broker.dlq_list(10) == []


async def test_dlq_list_is_most_recent_first(broker: Broker) -> None:
    await broker.dlq_add("b", b"entry-b", 200.0)
    await broker.dlq_add("a", b"entry-a", 100.0)
    await broker.dlq_add("c", b"entry-c", 300.5)

    assert await broker.dlq_list(10) == [b"entry-c", b"entry-b", b"entry-a"]
    assert await broker.dlq_size() == 3


async def test_dlq_list_respects_limit(broker: Broker) -> None:
    for i in range(5):
        await broker.dlq_add(f"job-{i}", f"entry-{i}".encode(), float(i))

    assert await broker.dlq_list(2) == [b"entry-4", b"entry-3"]
    assert await broker.dlq_list(0) == []


async def test_dlq_add_is_idempotent_and_latest_wins(broker: Broker) -> None:
    await broker.dlq_add("a", b"first", 100.0)
    await broker.dlq_add("b", b"other", 200.0)

    await broker.dlq_add("a", b"second", 300.0)

    assert await broker.dlq_size() == 2
    assert await broker.dlq_list(10) == [b"second", b"other"]


async def test_dlq_remove_drops_entry(broker: Broker) -> None:
    await broker.dlq_add("a", b"entry-a", 1.0)
    await broker.dlq_add("b", b"entry-b", 2.0)

    await broker.dlq_remove("a")

    assert await broker.dlq_size() == 1
    assert await broker.dlq_list(10) == [b"entry-b"]


async def test_dlq_remove_ignores_unknown_job(broker: Broker) -> None:
    await broker.dlq_add("a", b"entry-a", 1.0)

    await broker.dlq_remove("nope")

    assert await broker.dlq_list(10) == [b"entry-a"]


async def test_dlq_add_keeps_bytes_unchanged(broker: Broker) -> None:
    entry = "échec ✗".encode() + b"\x00\xff"

    await broker.dlq_add("a", entry, 1.0)

    assert await broker.dlq_list(1) == [entry]


async def test_events_reach_subscriber_in_publish_order(
    broker: Broker, subscriber: Subscriber
) -> None:
    payloads = [f"event {i}".encode() for i in range(200)]

    for payload in payloads:
        await broker.publish(payload)

    await wait_until(lambda: len(subscriber.received) >= len(payloads))
    assert subscriber.received == payloads


async def test_events_keep_payload_bytes_unchanged(
    broker: Broker, subscriber: Subscriber
) -> None:
    payloads = ['{"stage":"Übersetzung ✓ 字幕"}'.encode(), bytes(range(256)), b"\n"]

    for payload in payloads:
        await broker.publish(payload)

    await wait_until(lambda: len(subscriber.received) >= len(payloads))
    assert subscriber.received == payloads


async def test_events_reach_every_subscriber(broker: Broker) -> None:
    first = await Subscriber(broker).live()
    second = await Subscriber(broker).live()
    try:
        await broker.publish(b"hello")

        await wait_until(lambda: first.received == second.received == [b"hello"])
    finally:
        await first.stop()
        await second.stop()


def test_create_broker_relays_events_only_for_shared_servers() -> None:
    assert create_broker("fakeredis://", Settings()).relays_events is False
    assert create_broker("redis://127.0.0.1:1/0", Settings()).relays_events is True


async def test_create_broker_defers_connecting_to_open() -> None:
    broker = create_broker(f"redis://127.0.0.1:{free_port()}/0", Settings())
    try:
        with pytest.raises(BrokerUnavailableError):
            await broker.open()
    finally:
        await broker.close()


@pytest.mark.services
async def test_broker_unavailable_while_server_down_then_recovers() -> None:
    with RedisServer() as server:
        broker = create_broker(server.url, Settings())
        await broker.open()
        try:
            sub = await Subscriber(broker).live()
            server.stop()

            operations: list[Callable[[], Awaitable[object]]] = [
                broker.ping,
                lambda: broker.cache_get("a"),
                lambda: broker.cache_set_many([("a", 1, b"x")]),
                lambda: broker.cache_delete_many(["a"]),
                lambda: broker.dlq_add("a", b"x", 1.0),
                lambda: broker.dlq_remove("a"),
                lambda: broker.dlq_list(10),
                broker.dlq_size,
                lambda: broker.publish(b"x"),
            ]
            for operation in operations:
                with pytest.raises(BrokerUnavailableError):
                    await operation()
            with pytest.raises(BrokerUnavailableError):
                await asyncio.wait_for(sub.task, timeout=10)

            server.start()

            await broker.ping()
            await broker.cache_set_many([("a", 1, b"back")])
            assert await broker.cache_get("a") == b"back"
            sub = await Subscriber(broker).live()
            await broker.publish(b"again")
            await wait_until(lambda: sub.received == [b"again"])
            await sub.stop()
        finally:
            await broker.close()
