"""API fixtures: a vts app on a real loopback port, HTTP/WS clients, a steerable processor."""

from __future__ import annotations

import asyncio
import collections
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import attrs
import pytest
from _browser import BrowserSession, chromium
from _process import Spawn, VtsProcess, serve
from _support import instant_settings, wait_until
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner

from vts.api.connections import VtsRunner
from vts.app import create_app
from vts.config import Settings
from vts.domain import Job
from vts.ports import Processor, Reporter

SEED_BODY: dict[str, Any] = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}
PROBLEM = "application/problem+json"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "instance"}


def seed_body(**metadata: Any) -> dict[str, Any]:
    """The seed's POST /translate body, with `metadata` added (to tell jobs apart)."""
    return {**SEED_BODY, "metadata": {**SEED_BODY["metadata"], **metadata}}


class VtsTestServer(TestServer):
    """aiohttp's TestServer with the runner `vts serve` uses: request deadlines, the
    connection cap, problem+json for unparseable requests."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return VtsRunner(self.app, **kwargs)


class VtsClient(TestClient):  # type: ignore[type-arg]
    """aiohttp's TestClient (real sockets to the loopback server) plus vts shortcuts."""

    async def submit(
        self, body: Mapping[str, Any] | None = None, **metadata: Any
    ) -> str:
        """POST /translate (the seed body plus `metadata`); the job id (asserts 202)."""
        body = body if body is not None else seed_body(**metadata)
        async with self.post("/translate", json=body) as response:
            assert response.status == 202, await response.text()
            return str((await response.json())["job_id"])

    async def job(self, job_id: str) -> dict[str, Any]:
        async with self.get(f"/jobs/{job_id}") as response:
            assert response.status == 200, await response.text()
            data: dict[str, Any] = await response.json()
            return data

    async def job_ids(self, **query: str) -> list[str]:
        """Ids on one page of GET /jobs, newest first."""
        async with self.get("/jobs", params=query) as response:
            assert response.status == 200, await response.text()
            return [job["job_id"] for job in (await response.json())["jobs"]]

    async def wait_status(
        self, job_id: str, status: str, timeout: float = 10.0, **fields: Any
    ) -> dict[str, Any]:
        """Poll GET /jobs/{id} until the job has `status` (and `fields`); return it."""
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            seen.update(await self.job(job_id))
            return seen["status"] == status and all(
                seen.get(k) == v for k, v in fields.items()
            )

        await wait_until(
            reached, timeout, 0.02, f"job {job_id} reaching {status} {fields}"
        )
        return seen

    @staticmethod
    async def problem(response: aiohttp.ClientResponse, status: int) -> dict[str, Any]:
        """Assert `response` is an RFC 9457 problem with `status`; return its body."""
        text = await response.text()
        assert response.status == status, text
        assert response.content_type == PROBLEM, text
        body: dict[str, Any] = await response.json(content_type=PROBLEM)
        assert PROBLEM_FIELDS <= set(body), body
        assert body["status"] == status
        assert body["type"].startswith("/problems/")
        assert body["instance"] == response.url.raw_path  # percent-encoded: a URI
        assert all(
            isinstance(body[k], str) and body[k] for k in PROBLEM_FIELDS - {"status"}
        )
        assert "Traceback" not in text
        return body


ServerFactory = Callable[..., Awaitable[VtsClient]]


class GatedProcessor:
    """A Processor a test steers: every attempt waits at its job's gate for commands.

    `succeed`, `fail` and `report` queue what the running (or next) attempt of a job
    does; `started` waits for an attempt to begin; `cancelled` records the jobs whose
    running attempt was cancelled (asyncio.CancelledError seen inside `run`).
    """

    def __init__(self) -> None:
        self.attempts: collections.Counter[str] = collections.Counter()
        self.cancelled: set[str] = set()
        self.reported: collections.Counter[str] = collections.Counter()
        self._gates: collections.defaultdict[str, asyncio.Queue[object]] = (
            collections.defaultdict(asyncio.Queue)
        )

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job, report: Reporter) -> Mapping[str, Any]:
        self.attempts[job.job_id] += 1
        gate = self._gates[job.job_id]
        try:
            while True:
                command = await gate.get()
                if isinstance(command, BaseException):
                    raise command
                if isinstance(command, tuple):
                    await report(*command)
                    self.reported[job.job_id] += 1
                    continue
                assert isinstance(command, dict)
                return command
        except asyncio.CancelledError:
            self.cancelled.add(job.job_id)
            raise

    async def started(self, job_id: str, attempt: int = 1) -> None:
        await wait_until(
            lambda: self.attempts[job_id] >= attempt,
            message=f"attempt {attempt} of job {job_id} starting",
        )

    def succeed(self, job_id: str, result: Mapping[str, Any] | None = None) -> None:
        self._gates[job_id].put_nowait(
            dict(result or {"output_url": f"https://media.example/{job_id}.mp4"})
        )

    def fail(self, job_id: str, error: BaseException) -> None:
        self._gates[job_id].put_nowait(error)

    async def report(self, job_id: str, progress: int, stage: str | None) -> None:
        """Make the running attempt report progress; return once it has."""
        done = self.reported[job_id] + 1
        self._gates[job_id].put_nowait((progress, stage))
        await wait_until(
            lambda: self.reported[job_id] >= done,
            message=f"job {job_id} reporting {progress}",
        )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Zero-infrastructure settings: SQLite in tmp_path, fakeredis, instant jobs."""
    return instant_settings(tmp_path / "vts.db", max_attempts=3, lease_seconds=2.0)


@pytest.fixture
async def app_server(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[ServerFactory]:
    """`await app_server(processor=None, **settings_changes)`: a served app's client.

    The app is `create_app(settings, processor=...)` on VtsTestServer (a free
    127.0.0.1 port); without a processor it is the real SimulatedProcessor. Any error
    the server logs (an unhandled exception, a lost task) fails the test.
    """
    clients: list[VtsClient] = []

    async def start(processor: Processor | None = None, **changes: Any) -> VtsClient:
        app = create_app(attrs.evolve(settings, **changes), processor=processor)
        # limit=0: tests hold hundreds of WebSocket connections at once.
        client = VtsClient(
            VtsTestServer(app, host="127.0.0.1"),
            connector=aiohttp.TCPConnector(limit=0),
        )
        clients.append(client)
        await client.start_server()
        return client

    yield start
    for client in reversed(clients):
        await client.close()
    logged = [*caplog.get_records("setup"), *caplog.get_records("call")]
    errors = [r for r in [*logged, *caplog.records] if r.levelno >= logging.ERROR]
    assert not errors, "\n".join(f"{r.name}: {r.getMessage()}" for r in errors)


@pytest.fixture
async def client(app_server: ServerFactory) -> VtsClient:
    """A server running the real SimulatedProcessor (instant, never failing)."""
    return await app_server()


@pytest.fixture
def gate() -> GatedProcessor:
    return GatedProcessor()


@pytest.fixture
async def gated_client(app_server: ServerFactory, gate: GatedProcessor) -> VtsClient:
    """A server whose jobs run only as far as the test's `gate` lets them."""
    return await app_server(processor=gate)


@pytest.fixture
async def browser() -> AsyncIterator[BrowserSession]:
    """A headless Chromium; the test fails if a page logs a console error."""
    async with chromium() as session:
        yield session


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """The pages' console is judged when the test's body ends, before fixtures stop
    the servers they talk to."""
    result = yield
    session = getattr(item, "funcargs", {}).get("browser")
    if isinstance(session, BrowserSession):
        session.check()
    return result


@pytest.fixture
def seed() -> dict[str, Any]:
    """A fresh copy of the seed's POST /translate body."""
    return copy.deepcopy(SEED_BODY)


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    """A `vts serve` (one per test module) whose jobs take a minute: still pending or
    running whenever a test looks, however slowly its clients or CLI processes start,
    so never finished when a test cancels or times out."""
    env = {
        "VTS_SIM_DURATION": "60",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_SHUTDOWN_GRACE": "0",
    }
    yield from serve(tmp_path_factory.mktemp("slow"), env)


@pytest.fixture
async def spawn(tmp_path: Path) -> AsyncIterator[Spawn]:
    """Starts `vts serve` processes in tmp_path; kills any still running afterwards,
    and fails the test if one logged an error."""
    processes: list[VtsProcess] = []
    yield _starter(tmp_path, processes)
    for process in processes:
        process.close()
    for process in processes:
        assert not process.error_lines(), process.logs()


@pytest.fixture
async def spawn_killable(tmp_path: Path) -> AsyncIterator[Spawn]:
    """As `spawn`, for tests that kill servers and cut connections on purpose: the
    errors the servers log for that are expected, not judged."""
    processes: list[VtsProcess] = []
    yield _starter(tmp_path, processes)
    for process in processes:
        process.close()


def _starter(tmp_path: Path, processes: list[VtsProcess]) -> Spawn:
    """Starts a `vts serve` in tmp_path (its database) and records it."""

    async def start(env: dict[str, str], *args: str) -> VtsProcess:
        process = VtsProcess(tmp_path, env, args)
        processes.append(process)
        return await process.start()

    return start


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client session for talking to `vts serve` processes."""
    timeout = aiohttp.ClientTimeout(total=20)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        yield session
