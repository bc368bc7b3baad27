"""VtsProcess: a real `python -m vts serve` on a loopback port; helpers to talk to it."""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
from _support import answers_200, wait_until

# The start-up line cli.py logs once the socket is bound (VTS_PORT=0 included).
LISTENING = re.compile(
    r"vts \S+ listening on http://(?P<host>\S+):(?P<port>\d+)\s*$", re.M
)
ERROR_LINE = re.compile(r" (ERROR|CRITICAL) |^Traceback ")
LOG_TAIL_CHARS = 4000
# The request body of the seed's README example.
# Starts a `vts serve` with these VTS_* variables and arguments (the `spawn` fixture).
Spawn = Callable[..., Awaitable["VtsProcess"]]

SEED_BODY = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}

_serial = itertools.count(1)


def vts_command(*args: str) -> list[str]:
    """`python -m vts ARGS` with this interpreter (the tox env or the dev venv)."""
    return [sys.executable, "-m", "vts", *args]


def vts_env(variables: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without VTS_* settings, unbuffered, plus `variables`."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("VTS_") or name.startswith("VTS_TEST_")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(variables or {})
    return env


class VtsProcess:
    """One `python -m vts serve` process on 127.0.0.1.

    `preexec` runs in the child before it starts (e.g. to set resource limits).
    The port defaults to any free one (VTS_PORT=0, read back from the start-up log
    line) and the database to `vts.db` in `directory`, which is also the working
    directory. stdout and stderr go to a file there; `logs()` returns its tail for
    assertion messages. `close()` kills the process if it still runs.
    """

    def __init__(
        self,
        directory: Path,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        *,
        startup_timeout: float = 30.0,
        preexec: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.preexec = preexec
        self.env = vts_env(
            {
                "VTS_HOST": "127.0.0.1",
                "VTS_PORT": "0",
                "VTS_DATABASE_URL": f"sqlite:///{directory / 'vts.db'}",
                **(env or {}),
            }
        )
        self.args = tuple(args)
        self.startup_timeout = startup_timeout
        self.log_path = directory / f"vts-{next(_serial)}.log"
        self.host = ""
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        return self._started().pid

    @property
    def returncode(self) -> int | None:
        """The exit status once the process has ended (negative: killed by a signal)."""
        return self._started().poll()

    async def start(self) -> VtsProcess:
        """Start the process; return once GET /healthz answers 200 (bounded)."""
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                vts_command("serve", *self.args),
                env=self.env,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                preexec_fn=self.preexec,
            )
        try:
            await wait_until(
                self._listening, self.startup_timeout, 0.02, "the listening log line"
            )
            async with aiohttp.ClientSession() as session:
                await wait_until(
                    lambda: self._healthy(session),
                    self.startup_timeout,
                    0.02,
                    "GET /healthz answering 200",
                )
        except AssertionError as exc:
            self.close()
            raise AssertionError(f"vts did not start: {exc}\n{self.logs()}") from None
        return self

    def _listening(self) -> bool:
        if self._started().poll() is not None:
            raise AssertionError(f"vts exited with status {self.returncode}")
        match = LISTENING.search(self.log_path.read_text(errors="replace"))
        if match is None:
            return False
        self.host, self.port = match["host"], int(match["port"])
        return True

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        if self._started().poll() is not None:
            raise AssertionError(f"vts exited with status {self.returncode}")
        return await answers_200(session, f"{self.url}/healthz")

    def terminate(self) -> None:
        """SIGTERM: the graceful shutdown an orchestrator asks for."""
        self._started().send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGKILL: a crash; nothing in the process runs after it."""
        self._started().send_signal(signal.SIGKILL)

    async def wait(self, timeout: float) -> int:
        """The exit status; AssertionError (with the log tail) if still running."""
        process = self._started()
        try:
            return await asyncio.to_thread(process.wait, timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"vts still running {timeout}s later\n{self.logs()}"
            ) from None

    async def until(
        self,
        condition: Callable[[], bool | Awaitable[bool]],
        timeout: float,
        message: str,
    ) -> None:
        """`wait_until`, with this process's log tail in the failure message."""
        try:
            await wait_until(condition, timeout, 0.05, message)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def logs(self, tail: int = LOG_TAIL_CHARS) -> str:
        """The last `tail` characters the process wrote, headed by its command line."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        command = " ".join(["vts serve", *self.args])
        return f"--- {command} ({self.log_path.name}) ---\n{text[-tail:]}"

    def error_lines(self) -> list[str]:
        """Lines logged at ERROR or above, and traceback headers: a healthy run has none."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []
        return [line for line in lines if ERROR_LINE.search(line)]

    def close(self) -> None:
        """Kill the process if it still runs, and reap it."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("the vts process was not started")
        return self._process

    async def __aenter__(self) -> VtsProcess:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


def serve(directory: Path, env: dict[str, str]) -> Iterator[VtsProcess]:
    """A `vts serve` for a module-scoped fixture (started on a throwaway event loop);
    fails the fixture's teardown if the process logged an error."""
    process = VtsProcess(directory, env)
    asyncio.run(process.start())
    yield process
    process.close()
    assert not process.error_lines(), process.logs()


# --- talking to a running process ---------------------------------------------


async def submit(http: aiohttp.ClientSession, vts: VtsProcess, count: int) -> list[str]:
    """POST the seed body `count` times; the new job ids, each answered 202."""
    ids = []
    for _ in range(count):
        async with http.post(f"{vts.url}/translate", json=SEED_BODY) as response:
            assert response.status == 202, vts.logs()
            ids.append((await response.json())["job_id"])
    return ids


async def jobs_by_id(
    http: aiohttp.ClientSession, vts: VtsProcess
) -> dict[str, dict[str, Any]]:
    """Every job the process knows, by id; asserts they fit in one page of 100."""
    async with http.get(f"{vts.url}/jobs", params={"limit": "100"}) as response:
        assert response.status == 200, vts.logs()
        body = await response.json()
    assert body["next_cursor"] is None
    return {job["job_id"]: job for job in body["jobs"]}


async def wait_for_counts(
    http: aiohttp.ClientSession,
    vts: VtsProcess,
    condition: Callable[[Counter[str]], bool],
    message: str,
    timeout: float = 30,
) -> None:
    """Wait until `condition` holds for the number of jobs in each status."""

    async def check() -> bool:
        jobs = await jobs_by_id(http, vts)
        return condition(Counter(job["status"] for job in jobs.values()))

    await vts.until(check, timeout, message)


async def read_until_closed(
    ws: aiohttp.ClientWebSocketResponse, timeout: float
) -> list[dict[str, Any]]:
    """Every JSON message until the server closes the socket."""
    messages = []
    deadline = time.monotonic() + timeout
    while True:
        msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        if msg.type is not aiohttp.WSMsgType.TEXT:
            return messages
        messages.append(msg.json())
