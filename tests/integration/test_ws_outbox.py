"""A watcher's outbox: frames a real client parses, and a watcher that stops reading
is closed with 1013 once it has left MAX_BUFFERED_BYTES unread, without holding up
anyone else."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from typing import Any

import aiohttp
import orjson
import pytest
from _support import wait_until

from vts.api import outbox
from vts.keys import hub_key

BUFFERED = 64 * 1024
BIG = "x" * 15_000  # a job of ~16 KiB per message, so the buffer fills fast


def _stalled_watcher(port: int) -> socket.socket:
    """A raw /ws/jobs?all=true watcher with a tiny receive buffer that never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            "GET /ws/jobs?all=true HTTP/1.1\r\nHost: localhost\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    return sock


def _frames(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each whole unmasked frame in `data` (after the headers)."""
    frames, at = [], data.index(b"\r\n\r\n") + 4
    while at + 2 <= len(data):
        opcode, size = data[at] & 0x0F, data[at + 1] & 0x7F
        at += 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, at)
            at += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, at)
            at += 8
        if at + size > len(data):
            break
        frames.append((opcode, data[at : at + size]))
        at += size
    return frames


def _read_all(sock: socket.socket) -> bytes:
    """Everything up to the server's close frame (or the end of the stream): the
    server may hold the socket open a while for a close reply this client never
    sends, so do not wait for the end."""
    sock.settimeout(30)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
        frames = _frames(data) if b"\r\n\r\n" in data else []
        if frames and frames[-1][0] == aiohttp.WSMsgType.CLOSE:
            break
    return data


async def test_a_watcher_that_stops_reading_is_closed_1013_and_others_go_on(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox, "MAX_BUFFERED_BYTES", BUFFERED)
    hub = client.server.app[hub_key]
    stalled = await asyncio.to_thread(_stalled_watcher, client.server.port)
    try:
        await wait_until(lambda: hub.watcher_count == 1, message="stalled watching")
        # Internals on purpose: whether the server gave up on the stalled one.
        (stalled_sink,) = [s for sinks in hub._all.values() for s in sinks]
        async with client.ws_connect("/ws/jobs", params={"all": "true"}) as reader:
            await wait_until(lambda: hub.watcher_count == 2, message="both watching")
            ids: list[str] = []
            while not stalled_sink.closed:
                assert len(ids) < 2000, "the stalled watcher was never closed"
                ids.append(await client.submit(note=BIG))
            done: set[str] = set()
            while done != set(ids):
                message = await reader.receive_json(timeout=10)
                if message["status"] == "completed":
                    done.add(message["job_id"])
        data = await asyncio.to_thread(_read_all, stalled)
    finally:
        stalled.close()
    frames = _frames(data)
    jobs = [orjson.loads(p) for op, p in frames if op == aiohttp.WSMsgType.TEXT]
    assert jobs and all(m["type"] == "job" and m["job_id"] in ids for m in jobs)
    opcode, payload = frames[-1]
    assert opcode == aiohttp.WSMsgType.CLOSE
    assert struct.unpack_from("!H", payload)[0] == outbox.CLOSE_TRY_AGAIN_LATER


def test_text_frames_carry_every_length_encoding() -> None:
    for size in (0, 125, 126, 65535, 65536):
        payload = b"a" * size
        head = b"HTTP/1.1 101\r\n\r\n"
        assert _frames(head + outbox.text_frame(payload)) == [(1, payload)]
