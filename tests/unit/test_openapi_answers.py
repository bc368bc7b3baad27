"""The API's real answers (REST, problems, WebSocket messages) fit the OpenAPI document."""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from _openapi import SEED_BODY, SPEC, answer, component, schema_errors
from _support import instant_settings, wait_until
from aiohttp.test_utils import TestClient, TestServer

from vts.app import create_app
from vts.keys import store_key


@pytest.fixture
async def client(tmp_path: Any) -> AsyncIterator[TestClient]:
    """A served app whose jobs fail at once and for good: they land in the DLQ."""
    settings = instant_settings(tmp_path / "x.db", sim_error_rate=1.0, max_attempts=1)
    async with TestClient(TestServer(create_app(settings), host="127.0.0.1")) as c:
        yield c


async def test_openapi_describes_the_rest_answers(client: TestClient) -> None:
    assert schema_errors(component("CreateJobRequest"), SEED_BODY) == []
    created = await answer(
        client, "post", "/translate", "/translate", 202, json=SEED_BODY
    )
    job_id = created["job_id"]
    assert created["message"] == "Translation job started"
    headers = {"Idempotency-Key": "retry-1"}
    for _ in range(2):  # the second is a replay: Idempotent-Replayed
        await answer(
            client,
            "post",
            "/translate",
            "/translate",
            202,
            json=SEED_BODY,
            headers=headers,
        )
    job = await answer(client, "get", f"/jobs/{job_id}", "/jobs/{job_id}", 200)
    assert job["job_id"] == job_id

    async def failed() -> bool:
        page = await answer(client, "get", "/dlq", "/dlq", 200)
        return job_id in {j["job_id"] for j in page["jobs"]}

    await wait_until(failed, message="the job reaching the DLQ")
    page = await answer(client, "get", "/jobs?limit=1", "/jobs", 200)
    assert page["next_cursor"] is not None
    await answer(client, "get", f"/jobs?cursor={page['next_cursor']}", "/jobs", 200)
    await answer(client, "post", f"/jobs/{job_id}/cancel", "/jobs/{job_id}/cancel", 409)
    replayed = await answer(
        client, "post", f"/dlq/{job_id}/replay", "/dlq/{job_id}/replay", 202
    )
    assert replayed["attempts"] == 0


async def test_openapi_describes_the_problems(client: TestClient) -> None:
    bad = {**SEED_BODY, "target_language": "en", "extra": True}
    problem = await answer(client, "post", "/translate", "/translate", 422, json=bad)
    assert set(problem["errors"]) == {"target_language", "extra"}
    json_type = {"Content-Type": "application/json"}
    await answer(
        client,
        "post",
        "/translate",
        "/translate",
        413,
        data=b" " * (65 * 1024),
        headers=json_type,
    )
    refused = await answer(client, "post", "/translate", "/translate", 415, data=b"{}")
    assert refused["type"] == "/problems/unsupported-media-type"
    unknown = str(uuid.uuid4())
    await answer(client, "get", f"/jobs/{unknown}", "/jobs/{job_id}", 404)
    await answer(client, "get", "/jobs/not-a-uuid", "/jobs/{job_id}", 422)
    await answer(client, "get", "/jobs?limit=101", "/jobs", 422)
    await answer(client, "get", "/jobs?status=lost", "/jobs", 422)
    await answer(
        client, "post", f"/jobs/{unknown}/cancel", "/jobs/{job_id}/cancel", 404
    )
    await answer(client, "post", f"/dlq/{unknown}/replay", "/dlq/{job_id}/replay", 404)
    handshake = {
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Version": "13",
    }
    ws_job = "/ws/job/{job_id}"
    await answer(client, "get", f"/ws/job/{unknown}", ws_job, 404, headers=handshake)
    plain = await answer(client, "get", f"/ws/job/{unknown}", ws_job, 426)
    assert plain["type"] == "/problems/upgrade-required"
    await answer(client, "get", "/ws/jobs", "/ws/jobs", 426)
    broken = {**handshake, "Sec-WebSocket-Key": "not-16-bytes"}
    await answer(client, "get", "/ws/jobs", "/ws/jobs", 400, headers=broken)
    await answer(client, "get", "/ws/jobs?all=maybe", "/ws/jobs", 422)
    for empty in ("limit", "status", "cursor"):
        problem = await answer(client, "get", f"/jobs?{empty}=", "/jobs", 422)
        assert set(problem["errors"]) == {empty}


async def test_openapi_describes_the_webhook_create_and_its_replay(
    client: TestClient,
) -> None:
    hook = {"url": "https://hooks.example.com/in", "events": ["job.completed"]}
    assert schema_errors(component("CreateWebhookRequest"), hook) == []
    headers = {"Idempotency-Key": "hook-1"}
    answers = [  # the second is a replay: Idempotent-Replayed
        await answer(
            client, "post", "/webhooks", "/webhooks", 201, json=hook, headers=headers
        )
        for _ in range(2)
    ]
    assert answers[0] == answers[1]
    other = {**hook, "events": ["*"]}
    problem = await answer(
        client, "post", "/webhooks", "/webhooks", 422, json=other, headers=headers
    )
    assert problem["type"] == "/problems/idempotency-key-reused"


async def test_openapi_describes_the_operations_endpoints(client: TestClient) -> None:
    assert await answer(client, "get", "/healthz", "/healthz", 200) == {"status": "ok"}
    ready = await answer(client, "get", "/readyz", "/readyz", 200)
    assert ready["checks"]["store"] == "ok"
    metrics = await answer(client, "get", "/metrics", "/metrics", 200)
    assert "# TYPE" in metrics
    await answer(client, "get", "/openapi.json", "/openapi.json", 200)


async def test_openapi_describes_the_websocket_messages(client: TestClient) -> None:
    created = await answer(
        client, "post", "/translate", "/translate", 202, json=SEED_BODY
    )
    for path in ("/ws/job/{job_id}", "/ws/jobs"):
        assert "101" in SPEC["paths"][path]["get"]["responses"]
    server, sent = component("ServerMessage"), component("ClientMessage")
    async with client.ws_connect(f"/ws/job/{created['job_id']}") as ws:
        first = await ws.receive_json()
        assert first["type"] == "job"
        assert schema_errors(server, first) == []
        assert schema_errors(sent, {"type": "ping"}) == []
        await ws.send_json({"type": "ping"})
        while (message := await ws.receive_json())["type"] == "job":
            assert schema_errors(server, message) == []
        assert message == {"type": "pong"}
    async with client.ws_connect("/ws/jobs") as ws:
        for outgoing in (
            {"type": "subscribe", "job_ids": [created["job_id"], str(uuid.uuid4())]},
            {"type": "unsubscribe", "job_ids": [created["job_id"]]},
        ):
            assert schema_errors(sent, outgoing) == []
            await ws.send_json(outgoing)
        await ws.send_json({"type": "shout"})
        seen: set[str] = set()  # job messages, and error messages by code
        while not {"job", "job-not-found", "unknown-message"} <= seen:
            message = await ws.receive_json()
            assert schema_errors(server, message) == []
            seen.add(message.get("code", message["type"]))
        assert schema_errors(sent, {"type": "shout"}) != []


async def test_openapi_describes_readyz_when_the_store_is_down(
    client: TestClient,
) -> None:
    await client.app[store_key].close()
    problem = await answer(client, "get", "/readyz", "/readyz", 503)
    assert problem["status"] == 503
    assert problem["checks"]["store"].startswith("unavailable")
