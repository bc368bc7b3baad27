"""REST over a real loopback port: submitting, reading, idempotent retries, listing jobs."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, datetime

import pytest

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def _utc(value: str) -> datetime:
    assert ISO_UTC.match(value), value
    return datetime.fromisoformat(value)


# --- POST /translate and GET /jobs/{id} ----------------------------------------------


async def test_translate_seed_body_accepted_and_completes(client, seed) -> None:
    before = datetime.now(UTC)
    async with client.post("/translate", json=seed) as response:
        assert response.status == 202
        assert response.content_type == "application/json"
        body = await response.json()
        location = response.headers["Location"]
    assert set(body) == {"job_id", "status", "message"}
    assert str(uuid.UUID(body["job_id"])) == body["job_id"]
    assert body["status"] == "pending"
    assert isinstance(body["message"], str) and body["message"]
    assert location == f"/jobs/{body['job_id']}"

    job = await client.wait_status(body["job_id"], "completed")
    assert job["job_id"] == body["job_id"]
    assert job["progress"] == 100
    assert job["error"] is None
    assert isinstance(job["result"], dict) and job["result"]
    assert (job["source_language"], job["target_language"]) == ("en", "es")
    assert job["metadata"] == seed["metadata"]
    assert job["attempts"] == 1
    created, completed = _utc(job["created_at"]), _utc(job["completed_at"])
    assert before.replace(microsecond=0) <= created <= completed
    assert completed <= datetime.now(UTC)


async def test_get_job_retry_after_only_while_not_final(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    async with gated_client.get(f"/jobs/{job_id}") as response:
        assert (await response.json())["status"] in ("pending", "processing")
        assert response.headers["Retry-After"].isdigit()
    await gate.started(job_id)
    await gate.report(job_id, 40, "transcribing")
    async with gated_client.get(f"/jobs/{job_id}") as response:
        job = await response.json()
        assert (job["status"], job["progress"], job["stage"]) == (
            "processing",
            40,
            "transcribing",
        )
        assert job["completed_at"] is None
        assert int(response.headers["Retry-After"]) >= 1
    gate.succeed(job_id, {"output_url": "https://media.example/out.mp4"})
    await gated_client.wait_status(job_id, "completed")
    async with gated_client.get(f"/jobs/{job_id}") as response:
        job = await response.json()
        assert "Retry-After" not in response.headers
    assert job["result"] == {"output_url": "https://media.example/out.mp4"}
    assert job["progress"] == 100
    _utc(job["completed_at"])


async def test_get_job_unknown_id_is_404_problem(client) -> None:
    async with client.get(f"/jobs/{uuid.uuid4()}") as response:
        body = await client.problem(response, 404)
    assert body["type"] == "/problems/job-not-found"


# --- Idempotency-Key ------------------------------------------------------------------


async def test_idempotency_key_same_body_replays_same_job(client, seed) -> None:
    headers = {"Idempotency-Key": "order-42"}
    async with client.post("/translate", json=seed, headers=headers) as first:
        assert first.status == 202
        assert "Idempotent-Replayed" not in first.headers
        job_id = (await first.json())["job_id"]
    # Same body with its keys in another order: the same request.
    reordered = dict(reversed(list(seed.items())))
    async with client.post("/translate", json=reordered, headers=headers) as again:
        assert again.status == 202
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == f"/jobs/{job_id}"
        assert (await again.json())["job_id"] == job_id
    await client.wait_status(job_id, "completed")
    async with client.post("/translate", json=seed, headers=headers) as late:
        assert late.status == 202
        assert (await late.json())["job_id"] == job_id
    assert await client.job_ids() == [job_id]


async def test_idempotency_key_with_different_body_is_422(client, seed) -> None:
    headers = {"Idempotency-Key": "order-43"}
    async with client.post("/translate", json=seed, headers=headers) as first:
        job_id = (await first.json())["job_id"]
    other = {**seed, "target_language": "fr"}
    async with client.post("/translate", json=other, headers=headers) as response:
        body = await client.problem(response, 422)
    assert body["type"] == "/problems/idempotency-key-reused"
    assert await client.job_ids() == [job_id]


async def test_idempotency_key_concurrent_retries_create_one_job(client, seed) -> None:
    async def post(key: str) -> tuple[int, str]:
        headers = {"Idempotency-Key": key}
        async with client.post("/translate", json=seed, headers=headers) as response:
            return response.status, (await response.json())["job_id"]

    results = await asyncio.gather(*(post("burst") for _ in range(25)))
    assert {status for status, _ in results} == {202}
    assert len({job_id for _, job_id in results}) == 1
    other = await asyncio.gather(*(post("other") for _ in range(5)))
    assert len({job_id for _, job_id in other}) == 1
    listed = await client.job_ids()
    assert sorted(listed) == sorted({results[0][1], other[0][1]})


async def test_idempotency_key_distinct_keys_make_distinct_jobs(client, seed) -> None:
    ids = set()
    for key in ("a", "b"):
        headers = {"Idempotency-Key": key}
        async with client.post("/translate", json=seed, headers=headers) as response:
            ids.add((await response.json())["job_id"])
    assert len(ids) == 2
    assert set(await client.job_ids()) == ids


# --- GET /jobs -------------------------------------------------------------------------


async def test_list_jobs_newest_first_and_filtered_by_status(
    gated_client, gate
) -> None:
    done, cancelled, running = [await gated_client.submit(n=n) for n in range(3)]
    for job_id in (done, cancelled, running):
        await gate.started(job_id)
    gate.succeed(done)
    await gated_client.wait_status(done, "completed")
    async with gated_client.post(f"/jobs/{cancelled}/cancel") as response:
        assert response.status == 200

    assert await gated_client.job_ids() == [running, cancelled, done]
    assert await gated_client.job_ids(status="completed") == [done]
    assert await gated_client.job_ids(status="cancelled") == [cancelled]
    assert await gated_client.job_ids(status="processing") == [running]
    assert await gated_client.job_ids(status="pending") == []
    assert await gated_client.job_ids(status="failed") == []
    async with gated_client.get("/jobs", params={"status": "completed"}) as response:
        page = await response.json()
    assert page["next_cursor"] is None
    assert page["jobs"][0]["result"] is not None


async def test_list_jobs_cursor_pagination_visits_each_job_once(client) -> None:
    submitted = [await client.submit(n=n) for n in range(7)]
    seen: list[str] = []
    sizes = []
    params = {"limit": "3"}
    while True:
        async with client.get("/jobs", params=params) as response:
            assert response.status == 200
            page = await response.json()
        sizes.append(len(page["jobs"]))
        seen += [job["job_id"] for job in page["jobs"]]
        if page["next_cursor"] is None:
            break
        params = {"limit": "3", "cursor": page["next_cursor"]}
    assert sizes == [3, 3, 1]
    assert seen == submitted[::-1]


async def test_list_jobs_cursor_keeps_status_filter(gated_client, gate) -> None:
    ids = [await gated_client.submit(n=n) for n in range(5)]
    for job_id in ids[::2]:
        await gate.started(job_id)
        gate.succeed(job_id)
        await gated_client.wait_status(job_id, "completed")
    query = {"status": "completed", "limit": "2"}
    async with gated_client.get("/jobs", params=query) as response:
        page = await response.json()
    rest = await gated_client.job_ids(status="completed", cursor=page["next_cursor"])
    assert [j["job_id"] for j in page["jobs"]] + rest == ids[::2][::-1]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "done"}, "status"),
        ({"status": "PENDING"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "-1"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": "1.5"}, "limit"),
        ({"limit": "²"}, "limit"),
        ({"limit": "99999999999999999999999"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "czk5OTk5OTk5OTk5OTk5OTk5OTk5OQ"}, "cursor"),
        ({"cursor": "é"}, "cursor"),
    ],
)
async def test_list_jobs_bad_query_is_422_problem(client, query, field) -> None:
    await client.submit()
    async with client.get("/jobs", params=query) as response:
        body = await client.problem(response, 422)
    assert field in body.get("errors", {}), body
