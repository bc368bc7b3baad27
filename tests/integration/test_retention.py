"""VTS_RETENTION: final jobs disappear from every view once they outlive it; jobs
still pending or running never do. VTS_EVENT_RETENTION: logged events likewise."""

from __future__ import annotations

import asyncio

from _support import wait_until

from vts.errors import PermanentError
from vts.keys import store_key


async def _gone(client, job_id: str) -> bool:
    async with client.get(f"/jobs/{job_id}") as response:
        return response.status == 404


async def _dlq_ids(client) -> list[str]:
    async with client.get("/dlq") as response:
        return [job["job_id"] for job in (await response.json())["jobs"]]


async def test_final_jobs_are_deleted_after_the_retention(app_server, gate) -> None:
    client = await app_server(processor=gate, retention=0.5, concurrency=1)
    done, dead, cancelled, running, waiting = [await client.submit() for _ in range(5)]
    for job_id in (done, dead):
        await gate.started(job_id)
        if job_id == done:
            gate.succeed(job_id)
        else:
            gate.fail(job_id, PermanentError("no speech", code="no-speech"))
    await client.wait_status(dead, "failed")
    assert dead in await _dlq_ids(client)
    async with client.post(f"/jobs/{cancelled}/cancel") as response:
        assert response.status == 200
    await gate.started(running)  # holds the only slot: `waiting` stays pending
    # Watch a job that is about to go: its watcher already has the final snapshot.
    async with client.ws_connect(f"/ws/job/{done}") as ws:
        assert (await ws.receive_json(timeout=5))["status"] == "completed"

    for job_id in (done, dead, cancelled):
        await wait_until(lambda j=job_id: _gone(client, j), 10, 0.05, f"{job_id} gone")

    async def out_of_dlq() -> bool:
        return dead not in await _dlq_ids(client)

    await wait_until(out_of_dlq, 10, 0.05, "the dead letter dropped")
    assert set(await client.job_ids()) == {running, waiting}
    assert (await client.job(running))["status"] == "processing"
    assert (await client.job(waiting))["status"] == "pending"
    async with client.get("/metrics") as response:
        assert "vts_jobs_purged_total 3.0" in await response.text()

    gate.succeed(running)
    await client.wait_status(waiting, "processing")
    gate.succeed(waiting)
    for job_id in (running, waiting):
        await wait_until(lambda j=job_id: _gone(client, j), 10, 0.05, f"{job_id} gone")


async def test_with_both_retentions_off_nothing_sweeps(app_server) -> None:
    """VTS_RETENTION=0 (the default) keeps every job, VTS_EVENT_RETENTION=0 every
    event: then no sweeper runs at all; either one alone runs it."""

    def sweepers() -> list[asyncio.Task[object]]:
        return [t for t in asyncio.all_tasks() if t.get_name() == "vts-retention"]

    await app_server(event_retention=0.0)
    assert sweepers() == []
    await app_server(retention=3600.0, event_retention=0.0)
    assert len(sweepers()) == 1
    await app_server()  # the event retention's default, 24h
    assert len(sweepers()) == 2


async def test_logged_events_are_deleted_after_the_event_retention(
    app_server, gate
) -> None:
    """Events go once they outlive VTS_EVENT_RETENTION; the jobs stay (VTS_RETENTION
    is 0)."""
    client = await app_server(processor=gate, event_retention=0.5)
    store = client.app[store_key]
    job_id = await client.submit()
    await gate.started(job_id)
    gate.succeed(job_id)
    await client.wait_status(job_id, "completed")

    async def no_events() -> bool:
        return await store.events_after(None, 0, None, 10) == []

    await wait_until(no_events, 10, 0.05, "the events deleted")
    assert (await client.job(job_id))["status"] == "completed"
