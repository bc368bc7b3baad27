"""Input vts refuses over a real loopback port: user info and non-public hosts in
video_url, bodies not declared as JSON, repeated query parameters. Each is a specific
problem+json 4xx naming what is wrong, and nothing is stored."""

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


# --- video_url ---------------------------------------------------------------------------

REFUSED_URLS = {
    "user-and-password": "https://alice:S3cret@media.example.com/v.mp4",
    "user-only": "https://alice@media.example.com/v.mp4",
    "metadata-service": "http://169.254.169.254/latest/meta-data/iam/",
    "metadata-name": "http://metadata.google.internal/computeMetadata/v1/",
    "loopback": "http://127.0.0.1:6379/",
    "loopback-short": "http://127.1/",
    "loopback-decimal": "http://2130706433/",
    "loopback-hex": "http://0x7f.1/",
    "loopback-v6": "http://[::1]/",
    "loopback-v4-mapped": "http://[::ffff:127.0.0.1]/",
    "unspecified": "http://0.0.0.0:8000/",
    "private": "http://10.0.0.5/v.mp4",
    "private-v6": "http://[fd00:ec2::254]/",
    "link-local-v6": "http://[fe80::1]/",
    "shared-nat": "http://100.100.100.200/latest/meta-data/",
    "localhost": "http://localhost:8000/jobs",
    "localhost-subdomain": "http://vts.localhost/",
    "single-label": "http://redis:6379/",
}


@pytest.mark.parametrize("url", REFUSED_URLS.values(), ids=REFUSED_URLS.keys())
async def test_translate_refuses_user_info_and_non_public_hosts(client, url) -> None:
    async with client.post("/translate", json=_body(url)) as response:
        problem = await client.problem(response, 422)
    assert problem["type"] == "/problems/validation-error"
    assert list(problem["errors"]) == ["metadata.video_url"]
    why = problem["errors"]["metadata.video_url"]
    if "@" in url:
        assert "signed query string" in why
        assert "S3cret" not in orjson.dumps(problem).decode()  # not echoed back
    else:
        assert "VTS_ALLOW_PRIVATE_URLS" in why
    assert await _stored(client) == []


async def test_private_hosts_are_accepted_when_allowed(app_server) -> None:
    client = await app_server(allow_private_urls=True)
    urls = [u for u in REFUSED_URLS.values() if "@" not in u]
    ids = [await client.submit(_body(url)) for url in urls]
    assert sorted(ids) == sorted(await _stored(client))
    user_info = REFUSED_URLS["user-and-password"]
    async with client.post("/translate", json=_body(user_info)) as response:
        problem = await client.problem(response, 422)
    assert "signed query string" in problem["errors"]["metadata.video_url"]
    assert len(await _stored(client)) == len(urls)


async def test_public_video_urls_are_still_accepted(client) -> None:
    for url in (VIDEO, "http://8.8.8.8/v.mp4", "https://[2606:4700::1111]/v.mp4"):
        job_id = await client.submit(_body(url))
        assert (await client.job(job_id))["metadata"]["video_url"] == url


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
