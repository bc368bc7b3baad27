"""Slow clients against real `vts serve` processes: request deadlines, keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from _openapi import component, documented, schema_errors
from _process import VtsProcess, serve
from _rawhttp import (
    HALF_HEADERS,
    HALF_REQUEST_LINE,
    RawConnection,
    metric_value,
    request,
)

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT = 0.5
KEEPALIVE_TIMEOUT = 0.5
PROBLEM = "application/problem+json"
TIMED_OUT = 'vts_http_connections_dropped_total{reason="request_timeout"}'


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    """A short request deadline, a long keep-alive."""
    env = {
        "VTS_REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "VTS_KEEPALIVE_TIMEOUT": "60",
        "VTS_SIM_DURATION": "0",
    }
    yield from serve(tmp_path_factory.mktemp("strict"), env)


async def test_half_sent_requests_are_closed_after_the_request_timeout(
    strict: VtsProcess,
) -> None:
    before = await metric_value(strict, TIMED_OUT)

    async def send_part(part: bytes) -> float:
        connection = await RawConnection.open(strict)
        try:
            await connection.send(part)
            assert await connection.closed_by_server() == b"", "closed without answer"
            return connection.elapsed
        finally:
            await connection.close()

    parts = (b"", HALF_REQUEST_LINE, HALF_HEADERS)
    lifetimes = await asyncio.gather(*(send_part(part) for part in parts))
    assert min(lifetimes) >= REQUEST_TIMEOUT, lifetimes
    assert await metric_value(strict, TIMED_OUT) >= before + len(parts)


async def test_a_body_slower_than_the_request_timeout_is_answered_408(
    strict: VtsProcess,
) -> None:
    connection = await RawConnection.open(strict)
    try:
        head = request("POST", "/translate", Content_Type="application/json")
        head = head.replace(b"Content-Length: 0", b"Content-Length: 100")
        await connection.send(head + b'{"source_language": ')
        answer = await connection.answer()
        assert connection.elapsed >= REQUEST_TIMEOUT
        assert answer.status == 408, answer
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["connection"] == "close"
        assert answer.json()["type"] == "/problems/request-timeout"
        assert "VTS_REQUEST_TIMEOUT" in answer.json()["detail"]
        assert schema_errors(component("Problem"), answer.json()) == []
        documented("post", "/translate", 408)
        assert await connection.closed_by_server() == b""
    finally:
        await connection.close()
    assert strict.error_lines() == []


async def test_a_slow_body_nobody_reads_ends_at_the_request_timeout(
    strict: VtsProcess,
) -> None:
    """An answer that needs no body comes at once; the rest of the body is awaited
    only until the deadline (aiohttp alone would drain it for 10 s), then closed."""
    connection = await RawConnection.open(strict)
    try:
        await connection.send(request(body=b"x" * 100).replace(b"x" * 97, b""))
        assert (await connection.answer()).status == 200
        assert await connection.closed_by_server(timeout=5) == b""
        assert connection.elapsed >= REQUEST_TIMEOUT
    finally:
        await connection.close()
    assert strict.error_lines() == []


async def test_idle_connections_and_websockets_outlive_the_request_timeout(
    strict: VtsProcess,
) -> None:
    """The request deadline runs only while a request arrives: an idle keep-alive
    connection (VTS_KEEPALIVE_TIMEOUT) and an open WebSocket are left alone."""
    idle = await RawConnection.open(strict)
    slow = await RawConnection.open(strict)
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(f"{strict.ws_url}/ws/jobs") as ws,
    ):
        try:
            await idle.send(request())
            assert (await idle.answer()).status == 200
            await slow.send(HALF_HEADERS)
            # Opened after `idle` went idle: once it is closed, `idle` and `ws` have
            # been idle longer than the request deadline.
            assert await slow.closed_by_server() == b""
            await idle.send(request())
            assert (await idle.answer()).status == 200
            await ws.send_json({"type": "ping"})
            assert (await ws.receive_json(timeout=10)) == {"type": "pong"}
        finally:
            await idle.close()
            await slow.close()


async def test_a_client_hanging_up_mid_body_counts_as_499_not_500(
    strict: VtsProcess,
) -> None:
    sample = 'vts_http_requests_total{method="POST",route="/translate",status="%s"}'
    before = await metric_value(strict, sample % "499")
    connection = await RawConnection.open(strict)
    head = request(
        "POST", "/translate", Content_Type="application/json", Expect="100-continue"
    )
    await connection.send(head.replace(b"Content-Length: 0", b"Content-Length: 1000"))
    # 100 Continue: the request reached its handler, which now waits for the body.
    assert (await connection.answer()).status == 100
    await connection.send(b'{"source_language": "en", ')
    await connection.close()

    async def counted() -> bool:
        return await metric_value(strict, sample % "499") == before + 1

    await strict.until(counted, 10, "the hang-up counted as 499")
    assert await metric_value(strict, sample % "500") == 0
    assert strict.error_lines() == []


@pytest.mark.parametrize(
    ("sent", "status", "problem"),
    [
        (
            request(X_Big="a" * 9000),
            431,
            "/problems/request-header-fields-too-large",
        ),
        (
            request(path="/" + "a" * 9000),
            431,
            "/problems/request-header-fields-too-large",
        ),
        (b"GET /healthz HTTP/1.1\r\nHost: vts\r\nBad Header\r\n\r\n", 400, None),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32), 400, None),
        (b"GET /healthz HTTP/9.9\r\nHost: vts\r\n\r\n", 400, None),
    ],
    ids=["long-header", "long-url", "bad-header", "tls-hello", "bad-version"],
)
async def test_unparseable_requests_get_problem_json_and_no_traceback(
    strict: VtsProcess, sent: bytes, status: int, problem: str | None
) -> None:
    connection = await RawConnection.open(strict)
    try:
        await connection.send(sent)
        answer = await connection.answer()
        assert await connection.closed_by_server() == b""
    finally:
        await connection.close()
    assert answer.status == status, answer
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert schema_errors(component("Problem"), body) == []
    assert body["status"] == status
    assert body["type"] == (problem or "/problems/bad-request")
    assert strict.error_lines() == []
    sample = (
        f'vts_http_requests_total{{method="OTHER",route="unmatched",status="{status}"}}'
    )
    assert await metric_value(strict, sample) >= 1


@pytest.mark.parametrize("keepalive", [KEEPALIVE_TIMEOUT, 0])
async def test_an_idle_keepalive_connection_is_closed_after_the_keepalive_timeout(
    tmp_path_factory: pytest.TempPathFactory, keepalive: float
) -> None:
    args = ("--keepalive-timeout", str(keepalive), "--request-timeout", "60")
    async with VtsProcess(tmp_path_factory.mktemp("keepalive"), args=args) as vts:
        connection = await RawConnection.open(vts)
        try:
            await connection.send(request())
            answer = await connection.answer()
            assert answer.status == 200
            # 0: "Connection: close" on every answer; else the keep-alive timer.
            assert (answer.headers.get("connection") == "close") == (keepalive == 0)
            assert await connection.closed_by_server() == b""
            assert connection.elapsed >= keepalive
        finally:
            await connection.close()
        assert vts.error_lines() == []
