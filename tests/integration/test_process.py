"""Real `vts serve` processes: the seed flow, kill -9, SIGTERM drain, CLI exits."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _process import (
    SEED_BODY,
    Spawn,
    jobs_by_id,
    read_until_closed,
    submit,
    vts_command,
    vts_env,
    wait_for_counts,
)
from _servers import free_port

pytestmark = pytest.mark.slow

GOING_AWAY = 1001


async def read_on_disk(
    spawn: Spawn, http: aiohttp.ClientSession, env: dict[str, str]
) -> dict[str, dict[str, Any]]:
    """The jobs as stored, read through an API-only process that runs none of them."""
    inspector = await spawn(env, "--no-workers")
    jobs = await jobs_by_id(http, inspector)
    inspector.terminate()
    assert await inspector.wait(15) == 0, inspector.logs()
    return jobs


async def test_process_seed_flow_pushes_changes_until_completed(
    spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    vts = await spawn({"VTS_SIM_DURATION": "2", "VTS_SIM_ERROR_RATE": "0"})

    async with http.post(f"{vts.url}/translate", json=SEED_BODY) as response:
        assert response.status == 202
        created = await response.json()
        assert response.headers["Location"] == f"/jobs/{created['job_id']}"
    job_id = created["job_id"]
    assert created == {
        "job_id": job_id,
        "status": "pending",
        "message": "Translation job started",
    }

    messages = []
    async with http.ws_connect(f"{vts.ws_url}/ws/job/{job_id}") as ws:
        while not messages or messages[-1]["status"] != "completed":
            messages.append(await ws.receive_json(timeout=30))

    snapshot, *changes, final = messages
    assert snapshot["type"] == "job" and snapshot["job_id"] == job_id
    assert snapshot["status"] in ("pending", "processing")
    versions = [m["version"] for m in messages]
    assert versions == sorted(set(versions)), "each change once, in order"
    assert any(0 < m["progress"] < 100 and m["stage"] for m in changes), messages
    assert final["progress"] == 100 and final["attempts"] == 1
    assert final["result"]["output_url"].endswith(f"/{job_id}/es.mp4")
    assert final["completed_at"] is not None
    async with http.get(f"{vts.url}/jobs/{job_id}") as response:
        assert await response.json() == {k: v for k, v in final.items() if k != "type"}


async def test_process_kill9_loses_no_job_and_reruns_the_cut_ones(
    spawn: Spawn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    env = {
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "VTS_SIM_DURATION": "1-2",
        "VTS_LEASE_SECONDS": "1",
        "VTS_CONCURRENCY": "4",
        "VTS_SIM_ERROR_RATE": "0",
    }
    first = await spawn(env)
    ids = await submit(http, first, 20)

    await wait_for_counts(
        http,
        first,
        lambda counts: counts["completed"] >= 1 and counts["processing"] >= 1,
        "one job completed while others ran",
    )
    first.kill()
    assert await first.wait(10) == -signal.SIGKILL

    frozen = await read_on_disk(spawn, http, env)
    assert sorted(frozen) == sorted(ids)
    cut = {i for i, job in frozen.items() if job["status"] == "processing"}
    done = {i for i, job in frozen.items() if job["status"] == "completed"}
    assert cut and done, frozen
    assert {job["attempts"] for i, job in frozen.items() if i in cut} == {1}

    second = await spawn(env)
    await wait_for_counts(
        http, second, lambda c: c["completed"] == 20, "all completed after restart", 60
    )
    final = await jobs_by_id(http, second)
    assert sorted(final) == sorted(ids)
    for job_id in cut:
        # It ran again, and the attempt the crash cut short was given back.
        assert final[job_id]["lease_losses"] >= 1, final[job_id]
        assert final[job_id]["attempts"] == 1, final[job_id]
    for job_id in done:
        assert final[job_id] == frozen[job_id], "a finished job is not run again"
    for job_id in set(ids) - cut - done:
        assert final[job_id]["attempts"] == 1, final[job_id]
        assert final[job_id]["lease_losses"] == 0, "a live worker keeps its lease"
    assert "reclaimed" in second.logs() and "lease expired" in second.logs()


async def test_process_sigterm_finishes_running_jobs_and_keeps_pending_ones(
    spawn: Spawn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    grace = 10.0
    env = {
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "VTS_SHUTDOWN_GRACE": str(grace),
        "VTS_SIM_DURATION": "1",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_CONCURRENCY": "2",
    }
    vts = await spawn(env)
    ids = await submit(http, vts, 6)

    await wait_for_counts(
        http, vts, lambda counts: counts["processing"] == 2, "two jobs processing"
    )
    running = [
        i
        for i, j in (await jobs_by_id(http, vts)).items()
        if j["status"] == "processing"
    ]
    async with http.ws_connect(f"{vts.ws_url}/ws/job/{running[0]}") as ws:
        snapshot = await ws.receive_json(timeout=10)
        started = time.monotonic()
        vts.terminate()
        messages = await read_until_closed(ws, grace + 10)
        assert ws.close_code == GOING_AWAY, vts.logs()
    returncode = await vts.wait(grace + 10)
    elapsed = time.monotonic() - started

    assert returncode == 0, vts.logs()
    assert elapsed < grace, f"exited {elapsed:.1f}s after SIGTERM"
    assert snapshot["status"] == "processing"
    assert messages and messages[-1]["status"] == "completed", messages

    after = await read_on_disk(spawn, http, env)
    assert sorted(after) == sorted(ids)
    for job_id in running:
        assert after[job_id]["status"] == "completed", after[job_id]
    pending = {i for i, job in after.items() if job["status"] == "pending"}
    assert pending, "jobs that never started are kept for the next process"
    assert all(after[i]["attempts"] == 0 for i in pending), after
    completed = {i for i, job in after.items() if job["status"] == "completed"}
    assert pending | completed == set(ids), after

    restarted = await spawn({**env, "VTS_SIM_DURATION": "0.2"})
    await wait_for_counts(
        http, restarted, lambda c: c["completed"] == 6, "kept jobs completed"
    )


async def test_process_sigterm_past_grace_releases_jobs_without_using_attempts(
    spawn: Spawn, http: aiohttp.ClientSession, tmp_path: Path
) -> None:
    env = {
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.db'}",
        "VTS_SHUTDOWN_GRACE": "0.5",
        "VTS_SIM_DURATION": "5",
        "VTS_SIM_ERROR_RATE": "0",
    }
    vts = await spawn(env)
    ids = await submit(http, vts, 2)

    await wait_for_counts(
        http, vts, lambda counts: counts["processing"] == 2, "both jobs processing"
    )
    started = time.monotonic()
    vts.terminate()
    assert await vts.wait(15) == 0, vts.logs()
    assert time.monotonic() - started < 4, "the drain did not wait out 5 s jobs"
    assert "released 2 unfinished jobs" in vts.logs()

    after = await read_on_disk(spawn, http, env)
    for job_id in ids:
        assert after[job_id]["status"] == "pending", after[job_id]
        assert after[job_id]["attempts"] == 0, after[job_id]

    # The default 30 s lease: only a released job is claimable at once.
    restarted = await spawn({**env, "VTS_SIM_DURATION": "0.2"})
    await wait_for_counts(
        http, restarted, lambda c: c["completed"] == 2, "released jobs completed", 20
    )
    final = await jobs_by_id(http, restarted)
    assert [final[i]["attempts"] for i in ids] == [1, 1]


async def test_process_sigterm_closes_watchers_with_going_away(
    spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    vts = await spawn({}, "--no-workers")
    (job_id,) = await submit(http, vts, 1)
    async with (
        http.ws_connect(f"{vts.ws_url}/ws/job/{job_id}") as one,
        http.ws_connect(f"{vts.ws_url}/ws/jobs?all=true") as every,
    ):
        assert (await one.receive_json(timeout=10))["status"] == "pending"
        await every.send_json({"type": "ping"})
        assert await every.receive_json(timeout=10) == {"type": "pong"}
        vts.terminate()
        assert await read_until_closed(one, 15) == []
        assert await read_until_closed(every, 15) == []
        assert (one.close_code, every.close_code) == (GOING_AWAY, GOING_AWAY)
    assert await vts.wait(15) == 0, vts.logs()


def test_migrate_applies_schema_once(tmp_path: Path) -> None:
    database = tmp_path / "fresh.db"
    command = vts_command("migrate", "--database-url", f"sqlite:///{database}")

    def migrate() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command,
            env=vts_env(),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    first = migrate()
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout.strip()
        == "applied: 0001_create_jobs, 0002_index_finished_jobs, 0003_index_dead_jobs, "
        "0004_add_lease_losses, 0005_add_tenants, 0006_index_tenant_due, "
        "0007_create_job_events, 0008_create_webhooks, 0009_add_webhook_idempotency"
    )
    assert database.exists()
    again = migrate()
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "schema is up to date"


def serve_refused(
    tmp_path: Path, env: dict[str, str]
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`vts serve` with `env`, which must exit 2 with one line on stderr: the run
    and that line."""
    result = subprocess.run(
        vts_command("serve"),
        env=vts_env(env),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return result, lines


def test_serve_bad_setting_exits_2_naming_it(tmp_path: Path) -> None:
    port = free_port()
    database = tmp_path / "never.db"
    env = {
        "VTS_SIM_DURATION": "abc",
        "VTS_PORT": str(port),
        "VTS_DATABASE_URL": f"sqlite:///{database}",
    }
    result, lines = serve_refused(tmp_path, env)
    assert "VTS_SIM_DURATION" in lines[0] and "'abc'" in lines[0]
    assert "min-max" in lines[0], "the line says what the variable accepts"
    assert result.stdout == ""
    assert not database.exists(), "nothing was started"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()


def test_serve_checks_only_the_chosen_processors_settings(tmp_path: Path) -> None:
    # VTS_SIM_DURATION belongs to the simulated processor: with another one chosen it
    # is not read, so the one line is about the processor, which is not installed.
    env = {
        "VTS_PROCESSOR": "whisper",
        "VTS_SIM_DURATION": "abc",
        "VTS_PORT": str(free_port()),
        "VTS_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}",
    }
    result, lines = serve_refused(tmp_path, env)
    assert "'whisper'" in lines[0] and "simulated" in lines[0], (
        "names what is installed"
    )
    assert "VTS_SIM_DURATION" not in result.stderr
