"""`vts serve` with its SQLite file on a real 2 MiB tmpfs that fills up: unready and
503 while full, writing again by itself once space is back, no accepted job lost."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _process import SEED_BODY, Spawn, VtsProcess, jobs_by_id, submit
from _tmpfs import fill, free_bytes, tmpfs

pytestmark = [pytest.mark.slow, pytest.mark.disk]

FINAL = {"completed", "failed", "cancelled"}
PROBLEM = "application/problem+json"
LOST_OUTCOME = re.compile(r"could not record the outcome of job (\S+):")


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB file system: room for the database, and little else."""
    with tmpfs(tmp_path / "disk", "2m") as mount:
        yield mount


@pytest.fixture
def env(disk: Path) -> dict[str, str]:
    return {
        "VTS_DATABASE_URL": f"sqlite:///{disk / 'vts.db'}",
        "VTS_SIM_DURATION": "1-2",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_LEASE_SECONDS": "1",
        "VTS_CONCURRENCY": "4",
        # Headroom: leases lost during the outage do not use up a job's attempts.
        "VTS_MAX_ATTEMPTS": "20",
    }


def full_log(vts: VtsProcess) -> str:
    return vts.log_path.read_text(errors="replace")


async def post(
    http: aiohttp.ClientSession, vts: VtsProcess, accepted: list[str]
) -> int:
    """POST the seed body; a 202's job id joins `accepted`; a 503 must be a
    store-not-writable problem with Retry-After."""
    async with http.post(f"{vts.url}/translate", json=SEED_BODY) as response:
        if response.status == 202:
            accepted.append((await response.json())["job_id"])
            return 202
        assert response.status == 503, await response.text()
        assert response.content_type == PROBLEM
        assert response.headers["Retry-After"] == "1"
        problem = await response.json(content_type=PROBLEM)
        assert problem["type"] == "/problems/store-not-writable", problem
        assert "is full" in problem["detail"], problem
        return 503


async def readiness(
    http: aiohttp.ClientSession, vts: VtsProcess
) -> tuple[int, dict[str, Any]]:
    async with http.get(f"{vts.url}/readyz") as response:
        body: dict[str, Any] = await response.json(content_type=None)
        if response.status == 503:
            assert response.content_type == PROBLEM
            assert response.headers["Retry-After"] == "1"
        return response.status, body


async def store_writable(http: aiohttp.ClientSession, vts: VtsProcess) -> float:
    async with http.get(f"{vts.url}/metrics") as response:
        text = await response.text()
    (value,) = re.findall(r"^vts_store_writable (\S+)$", text, re.M)
    return float(value)


async def wait_all_final(
    http: aiohttp.ClientSession, vts: VtsProcess, accepted: list[str]
) -> dict[str, dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}

    async def all_final() -> bool:
        seen.clear()
        seen.update(await jobs_by_id(http, vts))
        return all(seen.get(i, {}).get("status") in FINAL for i in accepted)

    await vts.until(all_final, 60, f"all {len(accepted)} accepted jobs final")
    return seen


async def test_a_full_disk_makes_vts_unready_and_it_recovers_by_itself(
    spawn: Spawn, http: aiohttp.ClientSession, disk: Path, env: dict[str, str]
) -> None:
    vts = await spawn(env)
    accepted = await submit(http, vts, 8)

    async def running() -> bool:
        jobs = await jobs_by_id(http, vts)
        return any(job["status"] == "processing" for job in jobs.values())

    await vts.until(running, 20, "a job processing")
    filler = fill(disk)

    # A few small writes may still fit in space the database already holds; the
    # first one that does not makes every write fail until space is back.
    await vts.until(
        lambda: _refused(http, vts, accepted), 20, "POST /translate answering 503"
    )
    status, body = await readiness(http, vts)
    assert status == 503, body
    assert body["type"] == "/problems/store-not-writable"
    assert body["checks"]["store"].startswith("not writable: the disk holding")
    assert "is full" in body["detail"]
    # Running jobs cannot record their outcome; their leases run out and the
    # reaper cannot hand them back yet. Reads still work.
    await vts.until(
        lambda: (
            "cannot reclaim expired leases" in full_log(vts)
            and LOST_OUTCOME.search(full_log(vts)) is not None
        ),
        20,
        "a running job's lease running out during the outage",
    )
    cut = set(LOST_OUTCOME.findall(full_log(vts)))
    assert cut <= set(accepted)
    assert (await jobs_by_id(http, vts)).keys() >= set(accepted)
    assert (await readiness(http, vts))[0] == 503
    assert await store_writable(http, vts) == 0

    filler.unlink()
    await vts.until(
        lambda: _accepted(http, vts, accepted), 10, "POST /translate answering 202"
    )
    await vts.until(lambda: _ready(http, vts), 10, "GET /readyz answering 200 again")
    jobs = await wait_all_final(http, vts, accepted)
    for job_id in cut:
        assert jobs[job_id]["status"] == "completed", jobs[job_id]
    assert {jobs[i]["status"] for i in accepted} == {"completed"}
    assert "reclaimed" in full_log(vts)
    assert await store_writable(http, vts) == 1

    # The write-ahead log does not grow back into the freed space: plenty more
    # writes, and the disk keeps room.
    more = await submit(http, vts, 30)
    await wait_all_final(http, vts, [*accepted, *more])
    assert (await readiness(http, vts))[0] == 200
    assert free_bytes(disk) > 512 * 1024
    assert "cannot write" not in full_log(vts).split("writes again")[-1]


async def _refused(
    http: aiohttp.ClientSession, vts: VtsProcess, accepted: list[str]
) -> bool:
    return await post(http, vts, accepted) == 503


async def _accepted(
    http: aiohttp.ClientSession, vts: VtsProcess, accepted: list[str]
) -> bool:
    return await post(http, vts, accepted) == 202


async def _ready(http: aiohttp.ClientSession, vts: VtsProcess) -> bool:
    return (await readiness(http, vts))[0] == 200


async def test_a_process_started_on_the_full_disk_serves_reads_and_recovers(
    spawn: Spawn, http: aiohttp.ClientSession, disk: Path, env: dict[str, str]
) -> None:
    first = await spawn({**env, "VTS_SIM_DURATION": "30"})
    accepted = await submit(http, first, 6)

    async def running() -> bool:
        jobs = await jobs_by_id(http, first)
        return [j["status"] for j in jobs.values()].count("processing") == 4

    await first.until(running, 20, "four jobs processing")
    filler = fill(disk)
    await first.until(
        lambda: _refused(http, first, accepted), 20, "POST /translate answering 503"
    )
    first.kill()
    await first.wait(10)

    # The crashed process's leases run out while the disk is still full.
    second = await spawn(env)
    status, body = await readiness(http, second)
    assert status == 503, body
    assert "is full" in body["detail"], body
    assert (await jobs_by_id(http, second)).keys() >= set(accepted)
    assert await post(http, second, accepted) == 503

    filler.unlink()
    await second.until(
        lambda: _accepted(http, second, accepted), 10, "POST /translate answering 202"
    )
    await second.until(lambda: _ready(http, second), 10, "GET /readyz answering 200")
    jobs = await wait_all_final(http, second, accepted)
    assert {jobs[i]["status"] for i in accepted} == {"completed"}
    reclaimed = re.findall(r"reclaimed (\d+) jobs", full_log(second))
    assert sum(map(int, reclaimed)) >= 4, second.logs()
