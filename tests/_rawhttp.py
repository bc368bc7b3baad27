"""Raw HTTP/1.1 over a socket, for clients no HTTP library would be: slow, half-sent,
malformed, hanging up mid-body. Every read is bounded."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import attrs
import orjson
from _process import VtsProcess

HALF_REQUEST_LINE = b"GET /heal"
HALF_HEADERS = b"GET /healthz HTTP/1.1\r\nHost: vts\r\nAccept: appl"


@attrs.frozen
class Answer:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class RawConnection:
    """One TCP connection to a vts process; `elapsed` counts from before connecting."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.started = 0.0

    @classmethod
    async def open(cls, vts: VtsProcess) -> RawConnection:
        started = time.monotonic()
        connection = cls(*await asyncio.open_connection(vts.host, vts.port))
        connection.started = started
        return connection

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, timeout: float = 10.0) -> Answer:
        """Read one response (status line, headers, Content-Length body)."""
        async with asyncio.timeout(timeout):
            status_line = await self.reader.readline()
            assert status_line, "the server closed the connection without an answer"
            match = re.match(rb"HTTP/1\.[01] (\d{3}) ", status_line)
            assert match, status_line
            headers: dict[str, str] = {}
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await self.reader.readexactly(length)
        return Answer(int(match[1]), headers, body)

    async def closed_by_server(self, timeout: float = 10.0) -> bytes:
        """Wait for the server to close; what it sent meanwhile. AssertionError if it
        keeps the connection open `timeout` seconds. A reset counts as a close (the
        server closed with bytes of ours unread)."""
        try:
            async with asyncio.timeout(timeout):
                return await self.reader.read()
        except ConnectionResetError:
            return b""
        except TimeoutError:
            raise AssertionError(f"still open after {timeout}s") from None

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except ConnectionError:
            pass


def request(
    method: str = "GET", path: str = "/healthz", body: bytes = b"", **headers: str
) -> bytes:
    """A complete HTTP/1.1 request; header names are given with _ for -."""
    lines = [f"{method} {path} HTTP/1.1", "Host: vts"]
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in headers.items()]
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def metric_lines(vts: VtsProcess, prefix: str) -> list[str]:
    """The /metrics samples whose line starts with `prefix` (fresh connection)."""
    connection = await RawConnection.open(vts)
    try:
        await connection.send(request(path="/metrics", Connection="close"))
        answer = await connection.answer()
    finally:
        await connection.close()
    assert answer.status == 200, answer
    return [
        line for line in answer.body.decode().splitlines() if line.startswith(prefix)
    ]


async def metric_value(vts: VtsProcess, sample: str) -> float:
    """One sample's value, e.g. `vts_http_connections_dropped_total{reason="evicted"}`;
    0 when it has not been exported yet."""
    for line in await metric_lines(vts, sample):
        name, _, value = line.rpartition(" ")
        if name == sample:
            return float(value)
    return 0.0
