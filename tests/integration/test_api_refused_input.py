"""Input vts refuses over a real loopback port: bodies not declared as JSON, repeated
query parameters. Each is a specific problem+json 4xx naming what is wrong, and
nothing is stored."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

VIDEO = "https://example.com/video.mp4"


def _body(video_url: str) -> dict[str, Any]:
    return {
        "source_language": "en",
        "target_language": "es",
        "metadata": {"video_url": video_url},
    }


async def _stored(client) -> list[str]:
    """Every job id on the server (one page is all a test makes)."""
    return await client.job_ids(limit="100")


# --- Content-Type ------------------------------------------------------------------------

REFUSED_TYPES = {
    "text-plain": "text/plain",
    "form": "application/x-www-form-urlencoded",
    "octet-stream": "application/octet-stream",
    "merge-patch": "application/merge-patch+json",
    "latin-1": "application/json; charset=latin-1",
}


@pytest.mark.parametrize(
    "content_type", REFUSED_TYPES.values(), ids=REFUSED_TYPES.keys()
)
async def test_translate_body_not_declared_json_is_415(client, content_type) -> None:
    data = orjson.dumps(_body(VIDEO))  # valid JSON: only the declaration is wrong
    headers = {"Content-Type": content_type}
    async with client.post("/translate", data=data, headers=headers) as response:
        problem = await client.problem(response, 415)
        assert response.headers["Accept-Post"] == "application/json"
    assert problem["type"] == "/problems/unsupported-media-type"
    assert "application/json" in problem["detail"] or "UTF-8" in problem["detail"]
    assert await _stored(client) == []


async def test_translate_body_without_content_type_is_415(client) -> None:
    data = orjson.dumps(_body(VIDEO))
    # aiohttp adds a Content-Type to a bytes body unless told to skip it.
    async with client.post(
        "/translate", data=data, skip_auto_headers=["Content-Type"]
    ) as response:
        problem = await client.problem(response, 415)
        assert response.headers["Accept-Post"] == "application/json"
    assert "not declared" in problem["detail"]
    assert await _stored(client) == []


@pytest.mark.parametrize(
    "content_type", ["application/json; charset=utf-8", "APPLICATION/JSON"]
)
async def test_translate_json_with_parameters_is_accepted(client, content_type) -> None:
    headers = {"Content-Type": content_type}
    data = orjson.dumps(_body(VIDEO))
    async with client.post("/translate", data=data, headers=headers) as response:
        assert response.status == 202, await response.text()
    assert len(await _stored(client)) == 1


async def _curl(*args: str) -> tuple[int, dict[str, Any]]:
    process = await asyncio.create_subprocess_exec(
        "curl", "-s", "-w", "\n%{http_code}", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    body, _, status = out.decode().rpartition("\n")
    return int(status), orjson.loads(body)


async def test_readme_curl_example_works_and_plain_curl_d_gets_415(client) -> None:
    """The README's command (the seed's example) sends -H Content-Type and is
    accepted; the same command without it sends a form type and is told why."""
    url = str(client.make_url("/translate"))
    data = (
        '{"source_language": "en", "target_language": "es",\n'
        '       "metadata": {"video_url": "https://example.com/video.mp4"}}'
    )
    json_type = "Content-Type: application/json"
    status, created = await _curl("-X", "POST", url, "-H", json_type, "-d", data)
    assert status == 202 and created["status"] == "pending", created
    status, problem = await _curl("-X", "POST", url, "-d", data)
    assert status == 415, problem
    assert "application/x-www-form-urlencoded" in problem["detail"]
    assert await _stored(client) == [created["job_id"]]


# --- repeated query parameters -----------------------------------------------------------

REPEATED = {
    "jobs-status": ("/jobs?status=failed&status=pending", "status"),
    "jobs-status-same": ("/jobs?status=failed&status=failed", "status"),
    "jobs-limit": ("/jobs?limit=1&limit=5", "limit"),
    "jobs-cursor": ("/jobs?cursor=abc&cursor=def", "cursor"),
    "jobs-mixed": ("/jobs?limit=5&status=failed&limit=5", "limit"),
    "dlq-limit": ("/dlq?limit=1&limit=2", "limit"),
    "ws-jobs-all": ("/ws/jobs?all=true&all=false", "all"),
}


@pytest.mark.parametrize(("path", "name"), REPEATED.values(), ids=REPEATED.keys())
async def test_repeated_query_parameter_is_422_naming_it(client, path, name) -> None:
    await client.submit()
    async with client.get(path) as response:
        problem = await client.problem(response, 422)
    assert list(problem["errors"]) == [name]
    assert "given 2 times" in problem["errors"][name]
    assert len(await _stored(client)) == 1


async def test_repeated_all_refuses_the_websocket_upgrade(client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws/jobs?all=1&all=1")
    assert caught.value.status == 422


async def test_single_query_parameters_still_work(client) -> None:
    job_id = await client.submit()
    await client.wait_status(job_id, "completed")
    assert await client.job_ids(status="completed", limit="1") == [job_id]
    async with client.get("/dlq", params={"limit": "1"}) as response:
        assert response.status == 200
    async with client.ws_connect("/ws/jobs?all=true") as ws:
        await ws.send_json({"type": "subscribe", "job_ids": [job_id]})
        message = await ws.receive_json(timeout=10)
        assert (message["type"], message["job_id"]) == ("job", job_id)
