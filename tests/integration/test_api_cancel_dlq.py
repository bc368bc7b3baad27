"""REST over a real loopback port: cancelling jobs, retries, the dead-letter queue, replay."""

from __future__ import annotations

import uuid

from _support import wait_until

from vts.errors import PermanentError, TransientError


async def _dlq_ids(client) -> list[str]:
    async with client.get("/dlq") as response:
        assert response.status == 200
        return [job["job_id"] for job in (await response.json())["jobs"]]


# --- cancel --------------------------------------------------------------------------------


async def test_cancel_pending_job_never_runs_it(app_server, gate) -> None:
    client = await app_server(processor=gate, concurrency=1)
    busy = await client.submit(n=1)
    await gate.started(busy)
    waiting = await client.submit(n=2)
    assert (await client.job(waiting))["status"] == "pending"

    async with client.post(f"/jobs/{waiting}/cancel") as response:
        assert response.status == 200
        assert "Retry-After" not in response.headers
        job = await response.json()
    assert job["job_id"] == waiting
    assert job["status"] == "cancelled"
    assert job["completed_at"].endswith("Z")

    # The worker frees up; the next job it takes is a newer one, never the cancelled.
    gate.succeed(busy)
    later = await client.submit(n=3)
    await gate.started(later)
    assert gate.attempts[waiting] == 0
    assert (await client.job(waiting))["status"] == "cancelled"


async def test_cancel_processing_job_stops_its_processor(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    await gate.report(job_id, 20, "downloading")
    async with gated_client.post(f"/jobs/{job_id}/cancel") as response:
        assert response.status == 200
        job = await response.json()
    assert job["status"] == "cancelled"
    await wait_until(lambda: job_id in gate.cancelled, message="processor cancelled")
    # The worker is free for other jobs and writes nothing more to this one.
    other = await gated_client.submit(n=2)
    await gate.started(other)
    final = await gated_client.job(job_id)
    assert final["status"] == "cancelled"
    assert final["result"] is None
    assert final["version"] == job["version"]
    assert gate.attempts[job_id] == 1


async def test_cancel_completed_job_is_409_problem(client) -> None:
    job_id = await client.submit()
    done = await client.wait_status(job_id, "completed")
    async with client.post(f"/jobs/{job_id}/cancel") as response:
        body = await client.problem(response, 409)
    assert body["type"] == "/problems/invalid-transition"
    assert await client.job(job_id) == done


async def test_cancel_twice_is_409_problem(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    async with gated_client.post(f"/jobs/{job_id}/cancel") as response:
        assert response.status == 200
    async with gated_client.post(f"/jobs/{job_id}/cancel") as response:
        await gated_client.problem(response, 409)


async def test_cancel_unknown_job_is_404_problem(client) -> None:
    async with client.post(f"/jobs/{uuid.uuid4()}/cancel") as response:
        body = await client.problem(response, 404)
    assert body["type"] == "/problems/job-not-found"


async def test_cancel_malformed_id_is_422_problem(client) -> None:
    async with client.post("/jobs/123/cancel") as response:
        body = await client.problem(response, 422)
    assert "job_id" in body["errors"]


# --- retries and the dead-letter queue -----------------------------------------------


async def test_transient_failures_retry_then_dead_letter(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    for attempt in (1, 2):
        await gate.started(job_id, attempt)
        gate.fail(job_id, TransientError("asr overloaded", code="asr-overloaded"))
        job = await gated_client.wait_status(job_id, "pending", attempts=attempt)
        assert job["error"] == {
            "code": "asr-overloaded",
            "message": "asr overloaded",
            "retryable": True,
        }
        assert job_id not in await _dlq_ids(gated_client)
    await gate.started(job_id, 3)  # after a backoff of at least 0.5 s, then 1 s
    gate.fail(job_id, TransientError("still overloaded", code="asr-overloaded"))
    job = await gated_client.wait_status(job_id, "failed")
    assert job["attempts"] == 3
    assert job["completed_at"].endswith("Z")
    await wait_until(lambda: _in_dlq(gated_client, job_id), message="dead-lettered")
    async with gated_client.get("/dlq") as response:
        (entry,) = (await response.json())["jobs"]
    assert entry["job_id"] == job_id
    assert entry["status"] == "failed"
    assert entry["error"] == {
        "code": "asr-overloaded",
        "message": "still overloaded",
        "retryable": True,
    }
    assert gate.attempts[job_id] == 3


async def _in_dlq(client, job_id: str) -> bool:
    return job_id in await _dlq_ids(client)


async def test_permanent_failure_dead_letters_at_once(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    gate.fail(job_id, PermanentError("no speech found", code="no-speech"))
    job = await gated_client.wait_status(job_id, "failed")
    assert job["attempts"] == 1
    assert job["error"] == {
        "code": "no-speech",
        "message": "no speech found",
        "retryable": False,
    }
    async with gated_client.get(f"/jobs/{job_id}") as response:
        assert "Retry-After" not in response.headers
    await wait_until(lambda: _in_dlq(gated_client, job_id), message="dead-lettered")
    assert gate.attempts[job_id] == 1


async def test_a_result_that_is_not_json_fails_the_job_for_good(
    gated_client, gate
) -> None:
    """A processor plugin's bug: the job is dead-lettered with a clear error, not
    retried, and the server keeps working."""
    job_id = await gated_client.submit()
    await gate.started(job_id)
    gate.succeed(job_id, {"output_url": "https://media.example/x.mp4", "tags": {"a"}})
    job = await gated_client.wait_status(job_id, "failed")
    assert job["attempts"] == 1
    assert job["result"] is None
    assert job["error"]["code"] == "invalid-result"
    assert job["error"]["retryable"] is False
    assert "set" in job["error"]["message"]
    await wait_until(lambda: _in_dlq(gated_client, job_id), message="dead-lettered")
    assert gate.attempts[job_id] == 1
    second = await gated_client.submit()
    await gate.started(second)
    gate.succeed(second)
    await gated_client.wait_status(second, "completed")


async def test_dlq_lists_most_recent_failure_first(gated_client, gate) -> None:
    ids = [await gated_client.submit(n=n) for n in range(3)]
    for job_id in ids:
        await gate.started(job_id)
        gate.fail(job_id, PermanentError("bad codec"))
        await gated_client.wait_status(job_id, "failed")
    await wait_until(
        lambda: _dlq_has(gated_client, 3), message="three dead letters listed"
    )
    assert await _dlq_ids(gated_client) == ids[::-1]
    async with gated_client.get("/dlq", params={"limit": "2"}) as response:
        assert [j["job_id"] for j in (await response.json())["jobs"]] == ids[:0:-1]


async def _dlq_has(client, count: int) -> bool:
    return len(await _dlq_ids(client)) == count


async def test_replay_runs_failed_job_again_and_leaves_dlq(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    gate.fail(job_id, PermanentError("unsupported codec"))
    failed = await gated_client.wait_status(job_id, "failed")
    await wait_until(lambda: _in_dlq(gated_client, job_id), message="dead-lettered")

    async with gated_client.post(f"/dlq/{job_id}/replay") as response:
        assert response.status == 202
        assert response.headers["Retry-After"].isdigit()
        job = await response.json()
    assert job["job_id"] == job_id
    assert job["status"] == "pending"
    assert (job["attempts"], job["error"], job["completed_at"]) == (0, None, None)
    assert job["version"] > failed["version"]

    await gate.started(job_id, 2)
    await wait_until(
        lambda: _not_in_dlq(gated_client, job_id), message="removed from the DLQ"
    )
    gate.succeed(job_id, {"output_url": "https://media.example/again.mp4"})
    done = await gated_client.wait_status(job_id, "completed")
    assert done["result"] == {"output_url": "https://media.example/again.mp4"}
    assert done["attempts"] == 1
    assert await _dlq_ids(gated_client) == []


async def _not_in_dlq(client, job_id: str) -> bool:
    return job_id not in await _dlq_ids(client)


async def test_replay_of_job_not_failed_is_409_problem(gated_client, gate) -> None:
    running = await gated_client.submit(n=1)
    await gate.started(running)
    async with gated_client.post(f"/dlq/{running}/replay") as response:
        body = await gated_client.problem(response, 409)
    assert body["type"] == "/problems/invalid-transition"
    gate.succeed(running)
    await gated_client.wait_status(running, "completed")
    async with gated_client.post(f"/dlq/{running}/replay") as response:
        await gated_client.problem(response, 409)
    assert (await gated_client.job(running))["status"] == "completed"


async def test_replay_unknown_job_is_404_problem(client) -> None:
    async with client.post(f"/dlq/{uuid.uuid4()}/replay") as response:
        await client.problem(response, 404)
