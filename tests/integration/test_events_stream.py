"""GET /events on a real app on loopback: job events in commit order, narrowed by
job, resumed after an id, a reset past pruning, tenants apart, bad input refused."""

from __future__ import annotations

import asyncio
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from _openapi import answer, component, documented, schema_errors
from _sse import Event, EventReader
from _support import make_job, wait_until
from aiohttp.web_runner import BaseRunner

from integration.conftest import VtsClient, VtsTestServer
from integration.test_auth_tenants import ADMIN_KEY, ALL, bearer, new_key, submit
from vts.api import events_stream
from vts.app import create_app
from vts.config import Settings
from vts.keys import event_streams_key, hub_key, metrics_key, store_key

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


def final(job_id: str) -> Any:
    return lambda e: (
        e.event == "job"
        and e.json()["job_id"] == job_id
        and (e.json()["status"] in ("completed", "failed", "cancelled"))
    )


def statuses(events: list[Event], job_id: str) -> list[str]:
    return [e.json()["status"] for e in events if e.json()["job_id"] == job_id]


async def test_a_stream_carries_a_job_from_creation_to_completion_in_order(
    gated_client: Any, gate: Any
) -> None:
    async with gated_client.get("/events") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        reader = EventReader(response)
        job_id = await gated_client.submit()
        await gate.started(job_id)
        gate.succeed(job_id)
        events = await reader.until(final(job_id))
    assert statuses(events, job_id) == ["pending", "processing", "completed"]
    assert all(e.event == "job" for e in events)
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
    assert [e.json()["version"] for e in events] == [1, 2, 3]


async def test_a_stream_starts_now_and_last_event_id_resumes_exactly_after_it(
    client: Any,
) -> None:
    before = await client.submit()
    await client.wait_status(before, "completed")
    async with client.get("/events") as response:
        reader = EventReader(response)
        after = await client.submit()
        live = await reader.until(final(after))
    assert {e.json()["job_id"] for e in live} == {after}

    async with client.get("/events", params={"last_event_id": "0"}) as response:
        replayed = await EventReader(response).until(final(after))
    assert replayed[-len(live) :] == live
    assert statuses(replayed, before)[-1] == "completed"
    middle = replayed[len(replayed) // 2]
    headers = {"Last-Event-ID": middle.id or ""}
    async with client.get("/events", headers=headers) as response:
        resumed = await EventReader(response).until(final(after))
    assert resumed == replayed[len(replayed) // 2 + 1 :]


async def test_job_id_narrows_the_stream_to_those_jobs(client: Any) -> None:
    one, other = await client.submit(n=1), await client.submit(n=2)
    for job_id in (one, other):
        await client.wait_status(job_id, "completed")
    async with client.get("/events", params={"last_event_id": "0"}) as response:
        everything = await EventReader(response).until(final(other))
    params = {"last_event_id": "0", "job_id": one.upper()}  # any UUID spelling
    async with client.get("/events", params=params) as response:
        reader = EventReader(response)
        narrowed = await reader.until(final(one))
        job_ids = [("job_id", one), ("job_id", other), ("last_event_id", "0")]
        async with client.get("/events", params=job_ids) as both_response:
            both = await EventReader(both_response).until(final(other))
    assert narrowed == [e for e in everything if e.json()["job_id"] == one]
    assert both == everything


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({"last_event_id": "-1"}, {}, "last_event_id"),
        ({"last_event_id": "1.5"}, {}, "last_event_id"),
        ({"last_event_id": "9" * 20}, {}, "last_event_id"),
        ({"last_event_id": str(2**63)}, {}, "last_event_id"),
        ({}, {"Last-Event-ID": "abc"}, "Last-Event-ID"),
        ({}, {"Last-Event-ID": "-3"}, "Last-Event-ID"),
        # The header wins over the query, but a malformed query is still refused.
        ({"last_event_id": ""}, {"Last-Event-ID": "0"}, "last_event_id"),
        ({"job_id": "not-a-uuid"}, {}, "job_id"),
    ],
)
async def test_a_bad_cursor_or_job_id_is_a_problem_naming_it(
    client: Any, params: dict[str, str], headers: dict[str, str], field: str
) -> None:
    async with client.get("/events", params=params, headers=headers) as response:
        body = await client.problem(response, 422)
    assert body["type"] == "/problems/validation-error"
    assert field in body["errors"]


async def test_a_pruned_cursor_gets_a_reset_then_the_oldest_kept_event(
    client: Any,
) -> None:
    ids = [await client.submit(n=n) for n in range(3)]
    for job_id in ids:
        await client.wait_status(job_id, "completed")
    store = client.server.app[store_key]
    logged = await store.events_after(None, 0, None, 1000)
    await store.purge_events(FAR_FUTURE, 4)
    oldest = logged[4][0]
    assert await store.oldest_event_seq() == oldest

    async with client.get("/events", params={"last_event_id": "2"}) as response:
        events = await EventReader(response).until(final(ids[-1]))
    reset, *rest = events
    assert reset.event == "reset"
    assert reset.seq == oldest - 1
    assert reset.json()["reason"] == "pruned"
    assert [e.seq for e in rest] == [seq for seq, _ in logged[4:]]

    # Right at the edge nothing was lost: no reset.
    cursor = str(oldest - 1)
    async with client.get("/events", params={"last_event_id": cursor}) as response:
        first = await EventReader(response).next()
    assert first is not None and (first.event, first.seq) == ("job", oldest)

    # An id the log never handed out (a database started over): a reset too.
    ahead = str(logged[-1][0] + 1000)
    async with client.get("/events", params={"last_event_id": ahead}) as response:
        events = await EventReader(response).until(final(ids[-1]))
    assert (events[0].event, events[0].json()["reason"]) == ("reset", "unknown")
    assert [e.seq for e in events[1:]] == [seq for seq, _ in logged[4:]]


async def test_everything_pruned_resets_to_the_newest_seq(client: Any) -> None:
    job_id = await client.submit()
    await client.wait_status(job_id, "completed")
    store = client.server.app[store_key]
    newest = await store.newest_event_seq()
    await store.purge_events(FAR_FUTURE, 1000)
    async with client.get("/events", params={"last_event_id": "0"}) as response:
        reader = EventReader(response)
        reset = await reader.next()
        assert reset is not None and (reset.event, reset.seq) == ("reset", newest)
        later = await client.submit()
        events = await reader.until(final(later))
    assert all(e.seq > newest for e in events)


async def test_a_heartbeat_comment_arrives_on_an_idle_stream(client: Any) -> None:
    client.server.app[event_streams_key].heartbeat = 0.05
    async with client.get("/events") as response:
        reader = EventReader(response)
        with pytest.raises(TimeoutError):
            await reader.next(timeout=1.0)
    assert "ping" in reader.comments


async def test_tenants_never_see_each_others_events(app_server: Any, gate: Any) -> None:
    client = await app_server(processor=gate, auth="keys", admin_key=ADMIN_KEY)
    acme, globex = (
        await new_key(client, "acme", *ALL),
        await new_key(client, "globex", *ALL),
    )
    reader_key = await new_key(client, "acme", "jobs:read")
    theirs = await submit(client, globex)
    mine = await submit(client, acme)
    params = {"last_event_id": "0"}
    async with client.get("/events", params=params, headers=bearer(reader_key)) as r:
        events = await EventReader(r).until(lambda e: e.json()["job_id"] == mine)
    assert {e.json()["tenant"] for e in events} == {"acme"}
    # Asking for their job by id shows nothing either (nor that it exists).
    params = {"last_event_id": "0", "job_id": theirs}
    async with client.get("/events", params=params, headers=bearer(acme)) as r:
        reader = EventReader(r)
        with pytest.raises(TimeoutError):
            await reader.next(timeout=0.5)
    # An admin sees every tenant, or the one it names.
    async with client.get(
        "/events", params={"last_event_id": "0"}, headers=bearer(ADMIN_KEY)
    ) as r:
        events = await EventReader(r).until(lambda e: e.json()["job_id"] == mine)
    assert {e.json()["tenant"] for e in events} == {"acme", "globex"}
    headers = bearer(ADMIN_KEY, tenant="globex")
    async with client.get(
        "/events", params={"last_event_id": "0"}, headers=headers
    ) as r:
        events = await EventReader(r).until(lambda e: e.json()["job_id"] == theirs)
    assert {e.json()["tenant"] for e in events} == {"globex"}
    async with client.get("/events") as r:
        await client.problem(r, 401)
    unread = await new_key(client, "acme", "jobs:write")
    async with client.get("/events", headers=bearer(unread)) as r:
        await client.problem(r, 403)


def _stalled_stream(port: int) -> socket.socket:
    """A raw GET /events replaying the log, with a tiny receive buffer, that never
    reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.sendall(b"GET /events?last_event_id=0 HTTP/1.1\r\nHost: vts\r\n\r\n")
    return sock


def _read_to_end(sock: socket.socket) -> bytes:
    sock.settimeout(30)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


async def test_a_client_that_stops_reading_is_closed_and_others_go_on(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_stream, "STALL_SECONDS", 0.5)
    app = client.server.app
    streams, metrics = app[event_streams_key], app[metrics_key]
    stalled = await asyncio.to_thread(_stalled_stream, client.server.port)
    try:
        await wait_until(lambda: len(streams) == 1, message="the stalled stream open")
        async with client.get("/events") as response:
            reader = EventReader(response)
            ids: list[str] = []
            while metrics.event_streams_slow._value.get() == 0:
                assert len(ids) < 2000, "the stalled stream was never closed"
                ids.append(await client.submit(note="x" * 15_000))
            done: set[str] = set()
            while done != set(ids):
                event = await reader.next()
                assert event is not None
                if event.json()["status"] == "completed":
                    done.add(event.json()["job_id"])
            assert len(streams) == 1  # only this one is left
        data = await asyncio.to_thread(_read_to_end, stalled)
    finally:
        stalled.close()
    # What it was sent before the close is whole events of the log, in order.
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200")
    assert b"id: 1\nevent: job\n" in body
    await wait_until(lambda: len(streams) == 0, message="no stream left open")


async def test_openapi_describes_the_events_and_their_errors(client: Any) -> None:
    job_id = await client.submit()
    await client.wait_status(job_id, "completed")
    await answer(client, "get", "/events?last_event_id=-1", "/events", 422)
    await answer(client, "get", "/events?job_id=x", "/events", 422)
    async with client.get("/events", params={"last_event_id": "0"}) as response:
        spec_response, _ = documented("get", "/events", 200)
        assert response.content_type in spec_response["content"]
        events = await EventReader(response).until(final(job_id))
    for event in events:
        assert schema_errors(component("Job"), event.json()) == []


async def test_a_stream_rereads_the_log_when_the_relay_comes_back(client: Any) -> None:
    """Events this process was not told of (another replica's, while the relay was
    down) reach its streams once the hub's gap closes."""
    app = client.server.app
    store = app[store_key]
    async with client.get("/events") as response:
        reader = EventReader(response)
        await wait_until(lambda: len(app[event_streams_key]) == 1)
        # Stored behind the service's back: no hub event, as if by another replica.
        # Not claimable either: no worker's claim wakes the stream.
        job = make_job(str(uuid.uuid4()), available_at=FAR_FUTURE)
        await store.create(job, None)
        app[hub_key].open_gap()
        await app[hub_key].close_gap()
        event = await reader.next()
    assert event is not None and event.json()["job_id"] == job.job_id


class KeepHandlers(VtsTestServer):
    """As `vts serve` runs: a client that hangs up does not cancel its handler
    (aiohttp's TestServer would)."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return await super()._make_runner(**{**kwargs, "handler_cancellation": False})


async def test_a_stream_whose_client_left_is_closed_by_the_next_heartbeat(
    settings: Settings,
) -> None:
    app = create_app(settings)
    streams = app[event_streams_key]
    streams.heartbeat = 0.05
    async with VtsClient(KeepHandlers(app, host="127.0.0.1")) as client:
        async with client.get("/events"):
            await wait_until(lambda: len(streams) == 1, message="the stream open")
        await wait_until(lambda: len(streams) == 0, message="the stream closed")


async def test_a_live_stream_that_lagged_past_the_retention_gets_a_reset(
    app_server: Any,
) -> None:
    client = await app_server(event_retention=0.2)
    app = client.server.app
    store = app[store_key]
    async with client.get("/events") as response:
        reader = EventReader(response)
        await wait_until(lambda: len(app[event_streams_key]) == 1)
        # Logged without waking the stream, then pruned before it reads it.
        job = make_job(str(uuid.uuid4()), available_at=FAR_FUTURE)
        await store.create(job, None)

        async def pruned() -> bool:
            return await store.oldest_event_seq() is None

        await wait_until(pruned, message="the sweeper pruning it")
        app[hub_key].open_gap()
        await app[hub_key].close_gap()
        event = await reader.next()
    assert event is not None and event.event == "reset"
    assert event.json()["reason"] == "pruned"


async def test_a_request_line_too_long_to_read_is_a_documented_problem(
    client: Any,
) -> None:
    """Far more job ids than allowed do not fit aiohttp's request line: the answer
    is still problem+json, with a status the OpenAPI document lists."""
    params = [("job_id", str(uuid.uuid4())) for _ in range(300)]
    async with client.get("/events", params=params) as response:
        assert response.status == 431, await response.text()
        assert response.content_type == "application/problem+json"
