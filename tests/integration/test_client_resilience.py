"""TranslationClient when things break: kill -9, cut and frozen connections, no WebSocket."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from typing import Any

import pytest
import translation_client._watch
from _process import Spawn
from _proxy import TcpProxy
from _servers import free_port
from _support import wait_until
from translation_client import (
    ConflictError,
    JobFailedError,
    TranslationClient,
    TransportError,
)

pytestmark = pytest.mark.slow

VIDEO = {"video_url": "https://example.com/video.mp4"}


def assert_each_version_once(updates: list[dict[str, Any]]) -> None:
    versions = [job["version"] for job in updates]
    assert versions == sorted(set(versions)), versions
    assert [job["status"] for job in updates].count("completed") == 1


async def test_client_wait_survives_kill_9_and_restart(spawn_killable: Spawn) -> None:
    port = free_port()
    env = {
        "VTS_PORT": str(port),
        "VTS_SIM_DURATION": "2",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_LEASE_SECONDS": "1",
    }
    first = await spawn_killable(env)
    seen: list[dict[str, Any]] = []
    async with TranslationClient(
        first.url, max_retries=20, retry_delay=0.1, heartbeat_interval=1.0
    ) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        waiting = asyncio.create_task(
            client.wait_for_completion(job_id, timeout=60, on_update=seen.append)
        )
        await wait_until(
            lambda: any(job["progress"] > 0 for job in seen), 20, 0.01, "progress"
        )
        first.kill()
        assert await first.wait(10) == -signal.SIGKILL
        assert not waiting.done()

        second = await spawn_killable(env)
        assert second.port == port
        job = await waiting
    # Run again after the kill, without using an attempt for the one it cut short.
    assert (job["job_id"], job["status"], job["attempts"]) == (job_id, "completed", 1)
    assert job["lease_losses"] >= 1
    assert_each_version_once(seen)
    assert seen[-1] == job
    assert not second.error_lines(), second.logs()


async def test_client_wait_reconnects_after_the_connection_is_cut(
    spawn_killable: Spawn,
) -> None:
    vts = await spawn_killable({"VTS_SIM_DURATION": "1.5", "VTS_SIM_ERROR_RATE": "0"})
    seen: list[dict[str, Any]] = []
    async with (
        TcpProxy(vts.port) as proxy,
        TranslationClient(
            proxy.url, retry_delay=0.05, heartbeat_interval=1.0
        ) as client,
    ):
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        waiting = asyncio.create_task(
            client.wait_for_completion(job_id, timeout=30, on_update=seen.append)
        )
        await wait_until(lambda: bool(seen), 10, 0.01, "the first snapshot")
        assert proxy.upgrades == 1
        assert proxy.cut() >= 1
        job = await waiting
        assert proxy.upgrades == 2, "one reconnect"
    assert job["status"] == "completed"
    assert_each_version_once(seen)
    assert not vts.error_lines(), vts.logs()


async def test_client_heartbeat_detects_a_frozen_connection(
    spawn_killable: Spawn,
) -> None:
    vts = await spawn_killable({"VTS_SIM_DURATION": "3", "VTS_SIM_ERROR_RATE": "0"})
    heartbeat = 0.5
    seen: list[dict[str, Any]] = []
    async with (
        TcpProxy(vts.port) as proxy,
        TranslationClient(
            proxy.url, retry_delay=0.05, heartbeat_interval=heartbeat
        ) as client,
    ):
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        waiting = asyncio.create_task(
            client.wait_for_completion(job_id, timeout=30, on_update=seen.append)
        )
        await wait_until(lambda: bool(seen), 10, 0.01, "the first snapshot")
        frozen_at = time.monotonic()
        proxy.freeze()
        await wait_until(lambda: proxy.upgrades == 2, 10, 0.01, "a reconnect")
        assert time.monotonic() - frozen_at < 2 * heartbeat + 1.0
        job = await waiting
    assert job["status"] == "completed"
    assert_each_version_once(seen)


async def test_client_polls_when_the_websocket_is_refused(
    spawn_killable: Spawn, caplog: pytest.LogCaptureFixture
) -> None:
    vts = await spawn_killable({"VTS_SIM_DURATION": "0.3", "VTS_SIM_ERROR_RATE": "0"})
    async with (
        TcpProxy(vts.port, refuse_upgrades=True) as proxy,
        TranslationClient(proxy.url, retry_delay=0.05) as client,
    ):
        ids = [
            (await client.start_translation("en", "es", VIDEO))["job_id"]
            for _ in range(3)
        ]
        jobs = await asyncio.gather(
            *(client.wait_for_completion(job_id, timeout=30) for job_id in ids)
        )
        assert [job["status"] for job in jobs] == ["completed"] * 3
        assert proxy.upgrades == 1, "refused once; the client polls from then on"
        # A later wait polls at once, without another handshake.
        assert (await client.wait_for_completion(ids[0]))["version"] == jobs[0][
            "version"
        ]
        assert proxy.upgrades == 1
    warnings = [
        record
        for record in caplog.records
        if record.name == "translation_client" and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1, caplog.text
    assert "falling back to polling" in warnings[0].getMessage()
    assert "403" in warnings[0].getMessage()


async def test_client_tries_the_websocket_again_after_a_refusal_passes(
    spawn_killable: Spawn, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused upgrade may be a rolling deploy: later waits try the WebSocket again."""
    monkeypatch.setattr(translation_client._watch, "WEBSOCKET_RETRY_SECONDS", 0.2)
    vts = await spawn_killable({"VTS_SIM_DURATION": "0.3", "VTS_SIM_ERROR_RATE": "0"})
    async with (
        TcpProxy(vts.port, refuse_upgrades=True) as proxy,
        TranslationClient(proxy.url, retry_delay=0.05) as client,
    ):
        first = (await client.start_translation("en", "es", VIDEO))["job_id"]
        await client.wait_for_completion(first, timeout=30)
        assert proxy.upgrades == 1
        proxy.refuse_upgrades = False
        # The client remembers the refusal for WEBSOCKET_RETRY_SECONDS, then
        # the next wait tries the WebSocket again.
        hub = client._watch_hub()
        await wait_until(lambda: not hub.polling, 5, 0.01, "the refusal forgotten")
        second = (await client.start_translation("en", "es", VIDEO))["job_id"]
        job = await client.wait_for_completion(second, timeout=30)

        assert job["status"] == "completed"
        assert proxy.upgrades == 2, "the second wait went over a new WebSocket"


async def test_client_gives_up_after_max_retries_without_a_server() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with TranslationClient(url, max_retries=2, retry_delay=0.05) as client:
        started = time.monotonic()
        with pytest.raises(TransportError) as raised:
            await client.start_translation("en", "es", VIDEO)
        assert "after 3 attempts" in str(raised.value)
        with pytest.raises(TransportError) as waiting:
            await client.wait_for_completion("00000000-0000-4000-8000-000000000001")
        assert "after 3 attempts" in str(waiting.value)
        assert time.monotonic() - started < 5


async def test_client_cancel_whose_answer_was_lost_returns_the_cancelled_job(
    spawn: Spawn,
) -> None:
    """The first POST /cancel is done but its answer lost; the retry gets 409
    (already cancelled), which is what was asked for: the job, not an error."""
    vts = await spawn({"VTS_SIM_DURATION": "600", "VTS_SIM_ERROR_RATE": "0"})
    async with TranslationClient(vts.url) as direct:
        job_id = (await direct.start_translation("en", "es", VIDEO))["job_id"]
    async with (
        TcpProxy(vts.port) as proxy,
        TranslationClient(proxy.url, retry_delay=0.05) as client,
    ):
        proxy.drop_answers = 1
        job = await client.cancel(job_id)
        assert (job["job_id"], job["status"]) == (job_id, "cancelled")
        (lost,) = proxy.dropped
        assert lost.startswith(b"HTTP/1.1 200"), lost  # the first attempt did it
        with pytest.raises(ConflictError):  # nothing lost: a plain 409 stays one
            await client.cancel(job_id)


async def test_client_replay_whose_answer_was_lost_returns_the_replayed_job(
    spawn: Spawn,
) -> None:
    failing = await spawn(
        {"VTS_SIM_DURATION": "0", "VTS_SIM_ERROR_RATE": "1", "VTS_MAX_ATTEMPTS": "1"}
    )
    async with TranslationClient(failing.url, retry_delay=0.05) as direct:
        job_id = (await direct.start_translation("en", "es", VIDEO))["job_id"]
        with pytest.raises(JobFailedError):
            await direct.wait_for_completion(job_id, timeout=60)
    failing.close()
    # The replayed job then runs for far longer than the test: it stays replayed.
    vts = await spawn({"VTS_SIM_DURATION": "600", "VTS_SIM_ERROR_RATE": "0"})
    async with (
        TcpProxy(vts.port) as proxy,
        TranslationClient(proxy.url, retry_delay=0.05) as client,
    ):
        proxy.drop_answers = 1
        job = await client.replay(job_id)
        assert job["job_id"] == job_id
        assert job["status"] in ("pending", "processing") and job["error"] is None
        assert job["attempts"] <= 1  # reset by the replay
        (lost,) = proxy.dropped
        assert lost.startswith(b"HTTP/1.1 202"), lost  # the first attempt did it
        with pytest.raises(ConflictError):  # not failed, nothing lost: 409
            await client.replay(job_id)
