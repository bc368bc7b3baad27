"""VTS_MAX_CONNECTIONS and RLIMIT_NOFILE against real `vts serve` processes."""

from __future__ import annotations

import resource
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import pytest
from _openapi import component, schema_errors
from _process import VtsProcess, serve
from _rawhttp import (
    HALF_HEADERS,
    HALF_REQUEST_LINE,
    RawConnection,
    metric_value,
    request,
)

pytestmark = pytest.mark.slow

MAX_CONNECTIONS = 32
DROPPED = 'vts_http_connections_dropped_total{reason="%s"}'


@pytest.fixture(scope="module")
def capped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    """Few connections and a long request deadline: the deadline frees no slot
    while a test runs."""
    env = {
        "VTS_MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "VTS_REQUEST_TIMEOUT": "60",
        "VTS_SIM_DURATION": "0",
    }
    yield from serve(tmp_path_factory.mktemp("capped"), env)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as stack:
        yield stack


async def healthz(vts: VtsProcess) -> int:
    """GET /healthz on a new connection: the status."""
    connection = await RawConnection.open(vts)
    try:
        await connection.send(request(Connection="close"))
        return (await connection.answer()).status
    finally:
        await connection.close()


async def test_more_half_open_sockets_than_the_cap_do_not_lock_requests_out(
    capped: VtsProcess, stack: AsyncExitStack
) -> None:
    """Slow sockets fill every slot, yet each new request takes the slot of the one
    that has waited longest (VTS_REQUEST_TIMEOUT is a minute: it frees nothing)."""
    evicted = await metric_value(capped, DROPPED % "evicted")
    slow = []
    for n in range(MAX_CONNECTIONS + 16):
        connection = await RawConnection.open(capped)
        stack.push_async_callback(connection.close)
        await connection.send(HALF_HEADERS if n % 2 else HALF_REQUEST_LINE)
        slow.append(connection)
    for _ in range(5):
        assert await healthz(capped) == 200
    # The scrape's own connection counts; an eviction's close may be in flight.
    open_now = await metric_value(capped, "vts_http_connections")
    assert MAX_CONNECTIONS - 1 <= open_now <= MAX_CONNECTIONS + 1
    # Each slow socket past the cap pushed out the one that had waited longest.
    for connection in slow[:16]:
        assert await connection.closed_by_server() == b""
    assert await metric_value(capped, DROPPED % "evicted") >= evicted + 16
    assert capped.error_lines() == []


async def test_past_the_cap_of_busy_connections_new_ones_get_503(
    capped: VtsProcess, stack: AsyncExitStack
) -> None:
    """WebSockets are busy for life and count toward the cap: with every slot taken
    by one, a new connection is answered 503 problem+json and closed."""
    over = await metric_value(capped, DROPPED % "over_limit")
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    )
    sockets = [
        await stack.enter_async_context(session.ws_connect(f"{capped.ws_url}/ws/jobs"))
        for _ in range(MAX_CONNECTIONS)
    ]
    refused = await RawConnection.open(capped)
    try:
        await refused.send(request())
        answer = await refused.answer()
        assert await refused.closed_by_server() == b""
    finally:
        await refused.close()
    assert answer.status == 503, answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"] == "/problems/too-many-connections"
    assert "VTS_MAX_CONNECTIONS" in answer.json()["detail"]
    assert schema_errors(component("Problem"), answer.json()) == []
    for ws in sockets[1:]:  # still open and served
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10)) == {"type": "pong"}

    await sockets[0].close()

    async def answered() -> bool:
        return await healthz(capped) == 200

    await capped.until(answered, 10, "a slot freed by the closed WebSocket")
    assert await metric_value(capped, DROPPED % "over_limit") >= over + 1


async def test_serve_raises_the_open_file_limit_and_fits_the_cap_to_it(
    tmp_path: Path,
) -> None:
    def low_limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 400))

    async with VtsProcess(tmp_path, preexec=low_limits) as vts:
        limits = Path(f"/proc/{vts.pid}/limits").read_text()
        logs = vts.logs()
    assert "raised the open-file limit from 200 to 400" in logs
    # 400 minus the descriptors kept for the store, the broker and the logs.
    assert "VTS_MAX_CONNECTIONS lowered from 10000 to 272" in logs
    assert [
        line.split()[3:5] for line in limits.splitlines() if "open files" in line
    ] == [["400", "400"]]
