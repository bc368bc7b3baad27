"""Real `vts serve` processes killed with SIGKILL: a lost lease is not the job's
failure, and only a job that keeps losing its worker ends in the dead-letter queue."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _process import Spawn, VtsProcess, jobs_by_id, submit, wait_for_counts

pytestmark = pytest.mark.slow

FINAL = ("completed", "failed", "cancelled")
# Jobs of the first process run for ten minutes: none can finish before the kill,
# however slow the machine. A restarted process runs its jobs in a blink.
NEVER_DONE = "600"
QUICK = "0.2"
DEAD_LETTERED_METRIC = 'vts_job_leases_lost_total{outcome="dead_lettered"} 1.0'


async def crash(process: VtsProcess) -> None:
    process.kill()
    assert await process.wait(10) == -signal.SIGKILL


async def job(
    http: aiohttp.ClientSession, vts: VtsProcess, job_id: str
) -> dict[str, Any]:
    async with http.get(f"{vts.url}/jobs/{job_id}") as response:
        assert response.status == 200, vts.logs()
        body: dict[str, Any] = await response.json()
        return body


async def test_process_kill9_with_one_attempt_still_completes_every_job(
    spawn: Spawn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    count = 30
    env = {
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "VTS_SIM_DURATION": NEVER_DONE,
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_CONCURRENCY": str(count),
        "VTS_LEASE_SECONDS": "2",
        # One attempt, and no attempt ever fails: a crash must not use it.
        "VTS_MAX_ATTEMPTS": "1",
    }
    first = await spawn(env)
    ids = await submit(http, first, count)
    await wait_for_counts(
        http, first, lambda c: c["processing"] == count, "every job running"
    )
    await crash(first)

    second = await spawn({**env, "VTS_SIM_DURATION": QUICK})
    await wait_for_counts(
        http,
        second,
        lambda c: sum(c[status] for status in FINAL) == count,
        "every job final after the restart",
        60,
    )
    final = await jobs_by_id(http, second)
    assert sorted(final) == sorted(ids)
    for job_id in ids:
        done = final[job_id]
        assert done["status"] == "completed", done
        assert done["error"] is None, done
        assert done["attempts"] == 1, "the lost lease used no attempt"
        assert done["lease_losses"] >= 1, done
    assert "reclaimed" in second.logs()


async def test_process_job_that_keeps_losing_its_worker_is_dead_lettered(
    spawn: Spawn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    """A poison job (one that brings down every process running it), played by two
    kills: the second lost lease reaches VTS_MAX_LEASE_LOSSES=2."""
    env = {
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "VTS_SIM_DURATION": NEVER_DONE,
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_LEASE_SECONDS": "2",
        "VTS_MAX_LEASE_LOSSES": "2",
    }
    first = await spawn(env)
    (job_id,) = await submit(http, first, 1)
    await wait_for_counts(http, first, lambda c: c["processing"] == 1, "job running")
    await crash(first)

    second = await spawn(env)

    async def running_again() -> bool:
        seen = await job(http, second, job_id)
        return seen["status"] == "processing" and seen["lease_losses"] == 1

    await second.until(running_again, 30, "the job reclaimed and running again")
    await crash(second)

    third = await spawn(env)
    await wait_for_counts(http, third, lambda c: c["failed"] == 1, "job dead", 30)
    dead = await job(http, third, job_id)
    assert dead["lease_losses"] == 2
    assert dead["attempts"] == 0, "no attempt failed"
    assert dead["error"]["code"] == "lease-lost"
    assert dead["error"]["retryable"] is False
    assert "2 times" in dead["error"]["message"]

    async def dead_lettered() -> bool:
        async with http.get(f"{third.url}/dlq") as response:
            assert response.status == 200
            return [j["job_id"] for j in (await response.json())["jobs"]] == [job_id]

    async def counted() -> bool:
        async with http.get(f"{third.url}/metrics") as response:
            return DEAD_LETTERED_METRIC in await response.text()

    await third.until(dead_lettered, 10, "the job in the dead-letter queue")
    await third.until(counted, 10, "the lost lease counted")
