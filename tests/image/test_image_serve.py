"""`vts serve` in the image as the chart runs it: the seed flow, /data, the SIGTERM drain."""

from __future__ import annotations

from typing import Any

import aiohttp
from _container import AUTH, VALUES, Container, termination_grace_seconds
from _engine import Engine
from _process import SEED_BODY

# The seed's jobs, made short and certain (no simulated failures).
QUICK = {"VTS_SIM_DURATION": "1", "VTS_SIM_ERROR_RATE": "0"}


async def submit(http: aiohttp.ClientSession, vts: Container) -> str:
    async with http.post(
        f"{vts.url}/translate", json=SEED_BODY, headers=AUTH
    ) as response:
        assert response.status == 202, await response.text()
        created = await response.json()
    assert created["status"] == "pending"
    return str(created["job_id"])


async def follow(
    http: aiohttp.ClientSession, vts: Container, job_id: str, until: str
) -> list[dict[str, Any]]:
    """The WebSocket's messages about `job_id` up to the first with status `until`."""
    messages: list[dict[str, Any]] = []
    async with http.ws_connect(f"{vts.ws_url}/ws/job/{job_id}", headers=AUTH) as ws:
        while not messages or messages[-1]["status"] != until:
            messages.append(await ws.receive_json(timeout=60))
    return messages


async def job(http: aiohttp.ClientSession, vts: Container, job_id: str) -> Any:
    async with http.get(f"{vts.url}/jobs/{job_id}", headers=AUTH) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_serve_answers_probes_runs_the_seed_flow_and_keeps_jobs_in_data(
    engine: Engine, image: str, volume: str, http: aiohttp.ClientSession
) -> None:
    vts = Container(engine, image, QUICK, volume=volume)
    await vts.healthy(http)
    async with http.get(f"{vts.url}/readyz") as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["status"] == "ready"

    job_id = await submit(http, vts)
    messages = await follow(http, vts, job_id, "completed")
    assert messages[0]["job_id"] == job_id
    assert any(0 < m["progress"] < 100 for m in messages[1:-1]), messages
    assert messages[-1]["result"]["output_url"].endswith(f"/{job_id}/es.mp4")

    vts.remove()  # the container is gone; the volume keeps /data/vts.db
    again = Container(engine, image, QUICK, volume=volume)
    await again.healthy(http)
    kept = await job(http, again, job_id)
    assert kept["status"] == "completed" and kept["progress"] == 100
    files = engine("exec", again.name, "ls", "/data").stdout.split()
    assert "vts.db" in files, files


async def test_sigterm_drains_a_running_job_within_the_charts_grace_period(
    engine: Engine, image: str, volume: str, http: aiohttp.ClientSession
) -> None:
    # A job half as long as VTS_SHUTDOWN_GRACE (20 s), and long enough to be still
    # running when the signal arrives, however slow the engine's `kill` is.
    long_job = {"VTS_SIM_DURATION": "10", "VTS_SIM_ERROR_RATE": "0"}
    vts = Container(engine, image, long_job, volume=volume)
    await vts.healthy(http)
    job_id = await submit(http, vts)
    await follow(http, vts, job_id, "processing")

    # The kubelet sends SIGTERM after the preStop sleep; the rest of the grace
    # period is what the drain may take before SIGKILL.
    budget = termination_grace_seconds() - VALUES["preStopSleepSeconds"]
    code, took = vts.signal_and_wait("TERM", timeout=budget + 30)
    logs = vts.logs()
    assert code == 0, logs
    assert took < budget, f"drained in {took:.1f}s, the pod allows {budget}s"
    assert "shutting down: draining jobs" in logs, logs
    assert "draining 1 running jobs" in logs, logs

    after = Container(engine, image, QUICK, volume=volume)
    await after.healthy(http)
    drained = await job(http, after, job_id)
    assert drained["status"] == "completed", drained
    assert drained["attempts"] == 1, drained
