"""Lease renewal: a worker that lost a job's lease stops it; one that did not, never
says so."""

from __future__ import annotations

import asyncio
import logging

import attrs
import pytest
from _support import wait_until

from vts.keys import service_key

LOST = "lost the lease"


async def test_a_worker_whose_lease_was_taken_stops_the_job(
    app_server, gate, caplog: pytest.LogCaptureFixture
) -> None:
    client = await app_server(processor=gate, lease_seconds=0.6)
    job_id = await client.submit()
    await gate.started(job_id)
    # Another worker now holds the lease (as after a reclaim elsewhere).
    store = client.app[service_key].store
    job = await store.get(job_id, tenant=None)
    await store.update(
        attrs.evolve(job, lease_owner="another-replica", version=job.version + 1),
        job.version,
    )
    await wait_until(
        lambda: job_id in gate.cancelled, 5, message="the running attempt stopped"
    )
    assert any(LOST in r.getMessage() for r in caplog.records)
    stored = await store.get(job_id, tenant=None)
    assert stored.lease_owner == "another-replica"
    assert stored.version == job.version + 1, "the stopped attempt wrote nothing"


async def test_finishing_and_cancelled_jobs_are_not_reported_as_lost_leases(
    app_server, caplog: pytest.LogCaptureFixture
) -> None:
    """Renewals race with outcomes and cancels all the time on a busy worker. (The
    lease stays long enough that a slow CI machine never really loses one.)"""
    client = await app_server(lease_seconds=0.6, concurrency=64)
    caplog.set_level(logging.WARNING, logger="vts.worker.pool")
    ids = await asyncio.gather(*(client.submit() for _ in range(600)))
    for job_id in ids[::7]:
        async with client.post(f"/jobs/{job_id}/cancel") as response:
            assert response.status in (200, 409)

    async def all_final() -> bool:
        jobs = [await client.job(job_id) for job_id in ids]
        return all(j["status"] in ("completed", "cancelled") for j in jobs)

    await wait_until(all_final, 30, 0.05, "every job final")
    assert not [r.getMessage() for r in caplog.records if LOST in r.getMessage()]
