"""Input vts refuses over a real loopback port: repeated query parameters. Each is a
specific problem+json 4xx naming what is wrong, and nothing is stored."""

from __future__ import annotations

from typing import Any

import aiohttp
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
