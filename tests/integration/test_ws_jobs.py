"""WebSocket /ws/jobs with real clients: subscribe, unsubscribe, and ?all=true."""

from __future__ import annotations

import collections
import uuid
from typing import Any

import aiohttp
import pytest

from vts.keys import hub_key


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=10)
    return message


async def ping(ws: aiohttp.ClientWebSocketResponse) -> None:
    """Round-trip a ping: every message sent before it has been handled."""
    await ws.send_json({"type": "ping"})
    assert await receive(ws) == {"type": "pong"}


def assert_one_per_change(messages: list[dict[str, Any]]) -> None:
    versions = [m["version"] for m in messages]
    assert versions == list(range(versions[0], versions[0] + len(versions))), versions


async def test_ws_jobs_subscribe_gets_snapshots_then_changes(
    gated_client, gate
) -> None:
    ids = [await gated_client.submit(n=n) for n in range(3)]
    for job_id in ids:
        await gate.started(job_id)
    async with gated_client.ws_connect("/ws/jobs") as ws:
        await ws.send_json({"type": "subscribe", "job_ids": ids})
        snapshots = [await receive(ws) for _ in ids]
        assert sorted(m["job_id"] for m in snapshots) == sorted(ids)
        assert {(m["type"], m["status"]) for m in snapshots} == {("job", "processing")}
        by_job = {m["job_id"]: [m] for m in snapshots}
        for n, job_id in enumerate(ids):
            await gate.report(job_id, 10 * (n + 1), "transcribing")
            gate.succeed(job_id)
        completed: set[str] = set()
        while completed != set(ids):
            message = await receive(ws)
            by_job[message["job_id"]].append(message)
            if message["status"] == "completed":
                completed.add(message["job_id"])
    for n, job_id in enumerate(ids):
        messages = by_job[job_id]
        assert_one_per_change(messages)
        assert [m["progress"] for m in messages] == [0, 10 * (n + 1), 100]


async def test_ws_jobs_unknown_id_is_named_in_an_error(gated_client, gate) -> None:
    known = await gated_client.submit()
    unknown = str(uuid.uuid4())
    await gate.started(known)
    async with gated_client.ws_connect("/ws/jobs") as ws:
        await ws.send_json({"type": "subscribe", "job_ids": [unknown, known, "nope"]})
        messages = [await receive(ws) for _ in range(3)]
        errors = {m["job_id"]: m for m in messages if m["type"] == "error"}
        (snapshot,) = [m for m in messages if m["type"] == "job"]
        assert snapshot["job_id"] == known
        assert errors[unknown]["code"] == "job-not-found"
        assert unknown in errors[unknown]["detail"]
        assert errors["nope"]["code"] == "validation-error"
        await ping(ws)
        gate.succeed(known)
        assert (await receive(ws))["status"] == "completed"


async def test_ws_jobs_unsubscribe_stops_that_jobs_messages(gated_client, gate) -> None:
    dropped, kept = [await gated_client.submit(n=n) for n in range(2)]
    for job_id in (dropped, kept):
        await gate.started(job_id)
    async with gated_client.ws_connect("/ws/jobs") as ws:
        await ws.send_json({"type": "subscribe", "job_ids": [dropped, kept]})
        assert {(await receive(ws))["job_id"] for _ in range(2)} == {dropped, kept}
        await ws.send_json({"type": "unsubscribe", "job_ids": [dropped]})
        await ping(ws)
        # The dropped job changes first; only the kept job's later change arrives.
        await gate.report(dropped, 50, "translating")
        await gate.report(kept, 70, "synthesizing")
        message = await receive(ws)
        assert (message["job_id"], message["progress"]) == (kept, 70)
        gate.succeed(dropped)
        await gated_client.wait_status(dropped, "completed")
        await ping(ws)
        # Subscribing again resumes it, starting from a fresh snapshot.
        await ws.send_json({"type": "subscribe", "job_ids": [dropped]})
        again = await receive(ws)
    assert (again["job_id"], again["status"]) == (dropped, "completed")


async def test_ws_jobs_all_streams_every_job_to_completion(client) -> None:
    async with client.ws_connect("/ws/jobs", params={"all": "true"}) as ws:
        await ping(ws)
        ids = {await client.submit(n=n) for n in range(50)}
        by_job: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        completed: set[str] = set()
        while completed != ids:
            message = await receive(ws)
            assert message["type"] == "job"
            by_job[message["job_id"]].append(message)
            if message["status"] == "completed":
                completed.add(message["job_id"])
    assert set(by_job) == ids
    for messages in by_job.values():
        assert_one_per_change(messages)
        assert [m["status"] for m in messages] == ["pending", "processing", "completed"]


async def test_ws_jobs_all_remembers_a_bounded_number_of_versions(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long-lived `all=true` watcher (a dashboard) must not grow with every job."""
    monkeypatch.setattr("vts.api.outbox.MAX_SEEN_VERSIONS", 5)
    hub = client.server.app[hub_key]
    async with client.ws_connect("/ws/jobs", params={"all": "true"}) as ws:
        await ping(ws)
        ids = {await client.submit(n=n) for n in range(12)}
        completed: set[str] = set()
        while completed != ids:
            message = await receive(ws)
            if message["status"] == "completed":
                completed.add(message["job_id"])
        # Internals on purpose: what is bounded is the memory behind the socket.
        (sink,) = {sink for sinks in hub._all.values() for sink in sinks}
        assert len(sink._seen) == 5


@pytest.mark.parametrize(
    "message",
    [
        {"type": "subscribe"},
        {"type": "subscribe", "job_ids": "x"},
        {"type": "unsubscribe", "job_ids": [1]},
        {"type": "subscribe", "job_ids": [str(uuid.uuid4())] * 1001},
        {"type": "watch", "job_ids": []},
    ],
)
async def test_ws_jobs_malformed_message_gets_error_and_stays_up(
    client, message
) -> None:
    async with client.ws_connect("/ws/jobs") as ws:
        await ws.send_json(message)
        error = await receive(ws)
        assert error["type"] == "error"
        await ping(ws)


async def test_ws_jobs_bad_all_flag_is_422_before_upgrade(client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws/jobs", params={"all": "maybe"})
    assert caught.value.status == 422
