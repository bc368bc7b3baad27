"""WebSocket /ws/job/{id} with real clients: snapshot first, then every change in order."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from vts.errors import TransientError

SNAPSHOT_FIELDS = {"type", "job_id", "status", "version", "progress", "stage"}
SNAPSHOT_FIELDS |= {"updated_at"}
# The seed's example status message: every job message is a superset of it.
SEED_MESSAGE_FIELDS = {"job_id", "status", "completed_at"}


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message: dict[str, Any] = await ws.receive_json(timeout=10)
    return message


async def receive_until(
    ws: aiohttp.ClientWebSocketResponse, done: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Messages up to and including the first for which `done` is true."""
    messages = [await receive(ws)]
    while not done(messages[-1]):
        messages.append(await receive(ws))
    return messages


def assert_one_per_change(messages: list[dict[str, Any]]) -> None:
    """Job messages in strictly increasing, gap-free version order."""
    versions = [m["version"] for m in messages]
    assert versions == list(range(versions[0], versions[0] + len(versions))), versions
    assert all(m["type"] == "job" for m in messages)


async def test_ws_job_snapshot_then_each_change_until_completed(
    gated_client, gate
) -> None:
    job_id = await gated_client.submit()
    async with gated_client.ws_connect(f"/ws/job/{job_id}") as ws:
        first = await receive(ws)
        assert SNAPSHOT_FIELDS <= set(first)
        assert SEED_MESSAGE_FIELDS <= set(first)
        assert (first["type"], first["job_id"]) == ("job", job_id)
        assert first["status"] in ("pending", "processing")
        assert first["updated_at"].endswith("Z")
        await gate.started(job_id)
        await gate.report(job_id, 30, "transcribing")
        await gate.report(job_id, 60, "translating")
        gate.succeed(job_id, {"output_url": "https://media.example/x.mp4"})
        messages = [
            first,
            *await receive_until(ws, lambda m: m["status"] == "completed"),
        ]
    assert_one_per_change(messages)
    assert [(m["progress"], m["stage"]) for m in messages[-3:-1]] == [
        (30, "transcribing"),
        (60, "translating"),
    ]
    assert {m["status"] for m in messages[1:-1]} == {"processing"}
    last = messages[-1]
    assert last["result"] == {"output_url": "https://media.example/x.mp4"}
    assert last["progress"] == 100
    assert last["completed_at"].endswith("Z")
    assert last == {"type": "job", **(await gated_client.job(job_id))}


async def test_ws_job_after_finish_gets_terminal_snapshot_at_once(client) -> None:
    job_id = await client.submit()
    done = await client.wait_status(job_id, "completed")
    async with client.ws_connect(f"/ws/job/{job_id}") as ws:
        assert await receive(ws) == {"type": "job", **done}
        await ws.send_json({"type": "ping"})
        assert await receive(ws) == {"type": "pong"}


async def test_ws_job_failure_and_retry_are_pushed(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    async with gated_client.ws_connect(f"/ws/job/{job_id}") as ws:
        first = await receive(ws)
        assert first["status"] == "processing"
        gate.fail(job_id, TransientError("source timed out"))
        retry = await receive(ws)
        assert (retry["status"], retry["attempts"]) == ("pending", 1)
        assert retry["error"]["retryable"] is True
        await gate.started(job_id, 2)
        gate.succeed(job_id)
        messages = [first, retry, *await receive_until(ws, _completed)]
    assert_one_per_change(messages)
    assert [m["status"] for m in messages[2:]] == ["processing", "completed"]


def _completed(message: dict[str, Any]) -> bool:
    return message["status"] == "completed"


async def test_ws_job_cancel_is_pushed(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    async with gated_client.ws_connect(f"/ws/job/{job_id}") as ws:
        first = await receive(ws)
        async with gated_client.post(f"/jobs/{job_id}/cancel") as response:
            assert response.status == 200
        cancelled = await receive(ws)
    assert cancelled["status"] == "cancelled"
    assert cancelled["version"] == first["version"] + 1


async def test_ws_job_unknown_job_is_404_before_upgrade(client) -> None:
    path = f"/ws/job/{uuid.uuid4()}"
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(path)
    assert caught.value.status == 404
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    async with client.get(path, headers=handshake) as response:
        body = await client.problem(response, 404)
    assert body["type"] == "/problems/job-not-found"


async def test_ws_routes_answer_plain_http_with_426_upgrade_required(client) -> None:
    job_id = await client.submit()
    for path in (f"/ws/job/{job_id}", "/ws/jobs"):
        async with client.get(path) as response:
            body = await client.problem(response, 426)
            assert response.headers["Upgrade"] == "websocket"
        assert body["type"] == "/problems/upgrade-required"
        assert "WebSocket" in body["detail"]


async def test_ws_job_malformed_id_is_422_before_upgrade(client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws/job/not-a-job")
    assert caught.value.status == 422


async def test_ws_job_ping_gets_pong(client) -> None:
    job_id = await client.submit()
    async with client.ws_connect(f"/ws/job/{job_id}") as ws:
        await receive_until(ws, _completed)
        for _ in range(3):
            await ws.send_str('{"type":"ping"}')
            assert await receive(ws) == {"type": "pong"}


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"subscribe","job_ids":[]}',
        '{"type":"shout"}',
        '{"no":"type"}',
        "[1, 2]",
        '"ping"',
        "null",
        "not json",
        b"\x00binary",
    ],
)
async def test_ws_job_unknown_message_gets_error_and_stays_up(client, frame) -> None:
    job_id = await client.submit()
    async with client.ws_connect(f"/ws/job/{job_id}") as ws:
        await receive_until(ws, _completed)
        if isinstance(frame, bytes):
            await ws.send_bytes(frame)
        else:
            await ws.send_str(frame)
        error = await receive(ws)
        assert error["type"] == "error"
        assert isinstance(error["code"], str) and isinstance(error["detail"], str)
        await ws.send_json({"type": "ping"})
        assert await receive(ws) == {"type": "pong"}
        assert not ws.closed


async def test_ws_job_many_watchers_get_the_same_sequence(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    sockets = await asyncio.gather(
        *(gated_client.ws_connect(f"/ws/job/{job_id}") for _ in range(200))
    )
    try:
        firsts = await asyncio.gather(*(receive(ws) for ws in sockets))
        assert len({m["version"] for m in firsts}) == 1
        await gate.report(job_id, 10, "downloading")
        await gate.report(job_id, 50, "translating")
        gate.succeed(job_id)
        rests = await asyncio.gather(*(receive_until(ws, _completed) for ws in sockets))
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    sequences = [[first, *rest] for first, rest in zip(firsts, rests, strict=True)]
    assert all(sequence == sequences[0] for sequence in sequences)
    assert_one_per_change(sequences[0])
    assert [m["progress"] for m in sequences[0]] == [0, 10, 50, 100]
