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
    Answer,
    RawConnection,
    metric_value,
    request,
)

from vts.api.connections import PROBE_CONNECTIONS

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


async def fill_with_websockets(
    vts: VtsProcess, stack: AsyncExitStack
) -> list[aiohttp.ClientWebSocketResponse]:
    """MAX_CONNECTIONS open WebSockets: every slot busy. Connections of earlier
    tests must be gone first, or a WebSocket could find no slot."""

    async def only_the_scrape_open() -> bool:
        return await metric_value(vts, "vts_http_connections") == 1

    await vts.until(only_the_scrape_open, 10, "earlier connections closed")
    session = await stack.enter_async_context(
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    )
    return [
        await stack.enter_async_context(session.ws_connect(f"{vts.ws_url}/ws/jobs"))
        for _ in range(MAX_CONNECTIONS)
    ]


async def one_request(vts: VtsProcess, path: str) -> Answer:
    """GET `path` on a new keep-alive connection, which the server must close after
    its answer while the cap is full."""
    connection = await RawConnection.open(vts)
    try:
        await connection.send(request(path=path))
        answer = await connection.answer()
        assert await connection.closed_by_server() == b""
    finally:
        await connection.close()
    return answer


def assert_too_many_connections(answer: Answer) -> None:
    assert answer.status == 503, answer
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["connection"] == "close"
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["type"] == "/problems/too-many-connections"
    assert "VTS_MAX_CONNECTIONS" in answer.json()["detail"]
    assert schema_errors(component("Problem"), answer.json()) == []


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
    by one, a new connection's request (probes and scrapes aside) is answered 503
    problem+json and the connection closed."""
    over = await metric_value(capped, DROPPED % "over_limit")
    sockets = await fill_with_websockets(capped, stack)
    for method, path in (("GET", "/jobs"), ("POST", "/translate"), ("GET", "/")):
        refused = await RawConnection.open(capped)
        try:
            await refused.send(
                request(method, path, b"{}" if method == "POST" else b"")
            )
            answer = await refused.answer()
            assert await refused.closed_by_server() == b""
        finally:
            await refused.close()
        assert_too_many_connections(answer)
    for ws in sockets[1:]:  # still open and served
        await ws.send_json({"type": "ping"})
        assert (await ws.receive_json(timeout=10)) == {"type": "pong"}

    await sockets[0].close()

    async def answered() -> bool:
        connection = await RawConnection.open(capped)
        try:
            await connection.send(request(path="/jobs", Connection="close"))
            return (await connection.answer()).status == 200
        finally:
            await connection.close()

    await capped.until(answered, 10, "a slot freed by the closed WebSocket")
    assert await metric_value(capped, DROPPED % "over_limit") >= over + 3


async def test_probes_and_scrapes_are_answered_while_websockets_fill_the_cap(
    capped: VtsProcess, stack: AsyncExitStack
) -> None:
    """A kubelet probe or a Prometheus scrape must not be starved by busy
    WebSockets (a failed liveness probe would restart a healthy pod and drop every
    watcher): they get a connection from a small reserve above the cap."""
    await fill_with_websockets(capped, stack)
    for _ in range(3):
        for path in ("/healthz", "/readyz"):
            answer = await one_request(capped, path)
            assert answer.status == 200, answer
        scrape = await one_request(capped, "/metrics")
        assert scrape.status == 200, scrape
        # Counted as it is made: the WebSockets plus the scrape's own connection.
        assert f"vts_http_connections {MAX_CONNECTIONS + 1}.0" in scrape.body.decode()
    assert_too_many_connections(await one_request(capped, "/jobs"))

    # Slow sockets in the reserve are evicted, longest waiting first, like slow
    # sockets under the cap: they cannot lock the probes out either.
    slow = []
    for _ in range(PROBE_CONNECTIONS + 8):
        connection = await RawConnection.open(capped)
        stack.push_async_callback(connection.close)
        await connection.send(HALF_HEADERS)
        slow.append(connection)
    assert (await one_request(capped, "/healthz")).status == 200
    for connection in slow[:8]:
        assert await connection.closed_by_server() == b""
    assert capped.error_lines() == []


async def test_serve_raises_the_open_file_limit_and_fits_the_cap_to_it(
    tmp_path: Path,
) -> None:
    def low_limits() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (200, 400))

    async with VtsProcess(tmp_path, preexec=low_limits) as vts:
        limits = Path(f"/proc/{vts.pid}/limits").read_text()
        logs = vts.logs()
    assert "raised the open-file limit from 200 to 400" in logs
    # 400 minus the descriptors kept for the store, the broker, the logs and the
    # probes' reserve.
    assert "VTS_MAX_CONNECTIONS lowered from 10000 to 240" in logs
    assert [
        line.split()[3:5] for line in limits.splitlines() if "open files" in line
    ] == [["400", "400"]]
