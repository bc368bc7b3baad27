"""GET /events streams share their reads of the log: the streams of a tenant (or the
admins' view of every tenant) woken by one change make one store read between them,
and a stream at another cursor still gets every event, in order, exactly once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

import attrs
import pytest
from _sse import Event, EventReader
from _support import wait_until

from integration.conftest import VtsClient, VtsTestServer
from integration.test_auth_tenants import ADMIN_KEY, ALL, bearer, new_key, submit
from vts.api import events_stream
from vts.app import create_app
from vts.config import Settings
from vts.events.streams import EventStreams
from vts.keys import event_streams_key, store_key
from vts.ports import JobStore
from vts.snapshot import Snapshot

STREAMS = 8
Serve = Callable[..., Awaitable[VtsClient]]


@pytest.fixture
async def serve(settings: Settings) -> AsyncIterator[Serve]:
    """`await serve(**settings_changes)`: an app that runs no jobs, so each change
    is one the test makes."""
    clients: list[VtsClient] = []

    async def start(**changes: Any) -> VtsClient:
        app = create_app(attrs.evolve(settings, **changes), workers=False)
        client = VtsClient(VtsTestServer(app, host="127.0.0.1"))
        clients.append(client)
        await client.start_server()
        return client

    yield start
    for client in clients:
        await client.close()


class StreamReads:
    """The (tenant, after) of each page the streams ask the store for."""

    def __init__(self, store: JobStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[tuple[str | None, int]] = []
        read = store.events_after

        async def counted(
            tenant: str | None, after: int, job_ids: Any, limit: int
        ) -> list[tuple[int, Snapshot]]:
            if limit == events_stream.PAGE:
                self.calls.append((tenant, after))
            return await read(tenant, after, job_ids, limit)

        monkeypatch.setattr(store, "events_after", counted)


async def open_streams(
    stack: AsyncExitStack, client: VtsClient, count: int, **kwargs: Any
) -> list[EventReader]:
    responses = [
        await stack.enter_async_context(client.get("/events", **kwargs))
        for _ in range(count)
    ]
    assert all(r.status == 200 for r in responses)
    return [EventReader(r) for r in responses]


async def all_idle(streams: EventStreams, count: int) -> None:
    """`count` streams open, each done with its first read."""
    await wait_until(lambda: len(streams) == count and len(streams.reads) == 0)


async def next_events(readers: list[EventReader]) -> list[Event]:
    events = [await reader.next() for reader in readers]
    assert all(e is not None for e in events)
    return [e for e in events if e is not None]


async def test_streams_of_a_tenant_woken_by_a_change_make_one_read(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await serve()
    app = client.server.app
    streams = app[event_streams_key]
    reads = StreamReads(app[store_key], monkeypatch)
    async with AsyncExitStack() as stack:
        readers = await open_streams(stack, client, STREAMS)
        await all_idle(streams, STREAMS)
        reads.calls.clear()
        job_id = await client.submit()
        events = await next_events(readers)
        assert {(e.seq, e.json()["job_id"], e.json()["status"]) for e in events} == {
            (events[0].seq, job_id, "pending")
        }
        assert len(reads.calls) == 1
        async with client.post(f"/jobs/{job_id}/cancel") as response:
            assert response.status == 200
        events = await next_events(readers)
        assert {(e.seq, e.json()["status"]) for e in events} == {
            (events[0].seq, "cancelled")
        }
        assert len(reads.calls) == 2
        # No page is kept once the streams have sent it.
        assert len(streams.reads) == 0


async def test_each_tenant_and_the_admins_view_make_one_read_per_change(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = await serve(auth="keys", admin_key=ADMIN_KEY)
    app = client.server.app
    streams = app[event_streams_key]
    acme, globex = (
        await new_key(client, "acme", *ALL),
        await new_key(client, "globex", *ALL),
    )
    reads = StreamReads(app[store_key], monkeypatch)
    async with AsyncExitStack() as stack:
        acmes = await open_streams(stack, client, 3, headers=bearer(acme))
        # An admin naming a tenant reads what its streams read: the same read.
        acmes += await open_streams(
            stack, client, 1, headers=bearer(ADMIN_KEY, tenant="acme")
        )
        globexes = await open_streams(stack, client, 3, headers=bearer(globex))
        admins = await open_streams(stack, client, 2, headers=bearer(ADMIN_KEY))
        await all_idle(streams, 9)
        head = await app[store_key].newest_event_seq()
        reads.calls.clear()

        theirs = await submit(client, acme)
        for event in await next_events(acmes + admins):
            assert event.json()["job_id"] == theirs
        assert sorted(reads.calls, key=str) == [("acme", head), (None, head)]

        reads.calls.clear()
        ours = await submit(client, globex)
        # Their first event is globex's: acme's never reached them.
        for event in await next_events(globexes + admins):
            assert event.json()["job_id"] == ours
        assert sorted(reads.calls, key=str) == [("globex", head), (None, head + 1)]


async def test_streams_at_different_cursors_each_get_the_log_in_order(
    client: VtsClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Replaying, resuming and live streams of one tenant, pages of three events,
    jobs running meanwhile: each gets exactly the log after its cursor."""
    monkeypatch.setattr(events_stream, "PAGE", 3)
    app = client.server.app
    store = app[store_key]
    for job_id in [await client.submit(n=n) for n in range(4)]:
        await client.wait_status(job_id, "completed")
    head = await store.newest_event_seq()
    cursors = [0, 0, 0, head // 2, head // 2, head - 1] + [head] * 4
    async with AsyncExitStack() as stack:
        readers = []
        for cursor in cursors:
            headers = {"Last-Event-ID": str(cursor)}
            readers += await open_streams(stack, client, 1, headers=headers)
        await wait_until(lambda: len(app[event_streams_key]) == len(cursors))
        later = [await client.submit(n=n) for n in range(6)]
        for job_id in later:
            await client.wait_status(job_id, "completed")
        logged = await store.events_after(None, 0, None, 10_000)
        for reader, cursor in zip(readers, cursors, strict=True):
            expected = [(seq, s.body) for seq, s in logged if seq > cursor]
            got = []
            for _ in expected:
                event = await reader.next()
                assert event is not None and event.event == "job"
                got.append((event.seq, event.data.encode()))
            assert got == expected, cursor
