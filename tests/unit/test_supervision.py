"""Background loops restart after an unforeseen exception instead of dying silently."""

from __future__ import annotations

import asyncio
import logging

import pytest

from vts.supervision import supervise


async def test_a_crashed_loop_is_logged_counted_and_restarted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runs: list[int] = []
    crashed: list[str] = []

    async def flaky() -> None:
        runs.append(len(runs))
        if len(runs) < 3:
            raise RuntimeError(f"boom {len(runs)}")

    with caplog.at_level(logging.ERROR, logger="vts.supervision"):
        task = supervise("vts-test-loop", flaky, on_crash=crashed.append)
        await asyncio.wait_for(task, 5)
    assert runs == [0, 1, 2]
    assert crashed == ["vts-test-loop", "vts-test-loop"]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("vts-test-loop crashed; restarting it in")
    assert caplog.records[0].exc_info is not None
    assert "boom 1" in str(caplog.records[0].exc_info[1])


async def test_a_loop_that_returns_ends_the_task() -> None:
    async def once() -> None:
        return None

    task = supervise("vts-once", once)
    await asyncio.wait_for(task, 5)
    assert task.done() and not task.cancelled()


async def test_cancelling_stops_a_loop_between_restarts() -> None:
    started = asyncio.Event()

    async def always_fails() -> None:
        started.set()
        raise RuntimeError("again")

    task = supervise("vts-doomed", always_fails)
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
