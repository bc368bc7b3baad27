"""Bad input over a real loopback port: always a 4xx problem+json, never a 5xx or a job."""

from __future__ import annotations

import gzip
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

VIDEO = {"video_url": "https://example.com/video.mp4"}


def _body(**fields: Any) -> dict[str, Any]:
    return {
        "source_language": "en",
        "target_language": "es",
        "metadata": VIDEO,
    } | fields


def _nested(depth: int) -> dict[str, Any]:
    """An object `depth` levels deep (counting itself)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


async def _assert_no_jobs(client) -> None:
    assert await client.job_ids() == []


# --- POST /translate -------------------------------------------------------------------

RAW_BODIES = {
    "malformed-json": b'{"source_language": "en",',
    "trailing-garbage": orjson.dumps(_body()) + b"}",
    "empty": b"",
    "whitespace": b" \r\n\t",
    "array": b"[]",
    "array-of-body": orjson.dumps([_body()]),
    "string": b'"hello"',
    "number": b"42",
    "null": b"null",
    "true": b"true",
    "not-utf8": b'{"source_language": "\xff\xfe"}',
    "lone-surrogate": b'{"source_language": "\\ud800", "target_language": "es"}',
    "nan": b'{"source_language": NaN}',
    "infinite-number": b'{"metadata": {"video_url": "https://e.x/v", "n": 1e400}}',
    "too-deep-for-parser": b'{"a":' * 1100 + b"1" + b"}" * 1100,
}


@pytest.mark.parametrize("raw", RAW_BODIES.values(), ids=RAW_BODIES.keys())
async def test_translate_unparseable_body_is_422_problem(client, raw) -> None:
    headers = {"Content-Type": "application/json"}
    async with client.post("/translate", data=raw, headers=headers) as response:
        body = await client.problem(response, 422)
    assert body["type"] == "/problems/validation-error"
    await _assert_no_jobs(client)


INVALID_BODIES: dict[str, tuple[dict[str, Any], set[str]]] = {
    "no-fields": ({}, {"source_language", "target_language", "metadata"}),
    "no-source": (
        {"target_language": "es", "metadata": VIDEO},
        {"source_language"},
    ),
    "no-metadata": ({"source_language": "en", "target_language": "es"}, {"metadata"}),
    "no-video-url": (_body(metadata={"title": "x"}), {"metadata.video_url"}),
    "source-number": (_body(source_language=1), {"source_language"}),
    "target-null": (_body(target_language=None), {"target_language"}),
    "target-list": (_body(target_language=["es"]), {"target_language"}),
    "source-bool": (_body(source_language=True), {"source_language"}),
    "metadata-string": (_body(metadata="https://example.com/v.mp4"), {"metadata"}),
    "metadata-array": (_body(metadata=[VIDEO]), {"metadata"}),
    "video-url-number": (_body(metadata={"video_url": 5}), {"metadata.video_url"}),
    "video-url-object": (_body(metadata={"video_url": {}}), {"metadata.video_url"}),
    "tag-word": (_body(source_language="english"), {"source_language"}),
    "tag-underscore": (_body(source_language="en_US"), {"source_language"}),
    "tag-one-letter": (_body(target_language="e"), {"target_language"}),
    "tag-digits": (_body(target_language="12"), {"target_language"}),
    "tag-trailing-dash": (_body(source_language="en-"), {"source_language"}),
    "tag-empty": (_body(source_language=""), {"source_language"}),
    "tag-space": (_body(source_language=" en"), {"source_language"}),
    "tag-newline": (_body(source_language="en\n"), {"source_language"}),
    "tag-non-ascii": (_body(target_language="éS"), {"target_language"}),
    "tag-long": (_body(target_language="es-" + "a" * 300), {"target_language"}),
    "same-languages": (_body(target_language="en"), {"target_language"}),
    "same-languages-case": (_body(target_language="EN"), {"target_language"}),
    "url-ftp": (
        _body(metadata={"video_url": "ftp://example.com/v.mp4"}),
        {"metadata.video_url"},
    ),
    "url-file": (
        _body(metadata={"video_url": "file:///etc/passwd"}),
        {"metadata.video_url"},
    ),
    "url-javascript": (
        _body(metadata={"video_url": "javascript:alert(1)"}),
        {"metadata.video_url"},
    ),
    "url-no-host": (_body(metadata={"video_url": "https://"}), {"metadata.video_url"}),
    "url-relative": (_body(metadata={"video_url": "/v.mp4"}), {"metadata.video_url"}),
    "url-space": (
        _body(metadata={"video_url": "https://exa mple.com/v.mp4"}),
        {"metadata.video_url"},
    ),
    "url-bad-port": (
        _body(metadata={"video_url": "https://example.com:99999/v"}),
        {"metadata.video_url"},
    ),
    "url-too-long": (
        _body(metadata={"video_url": "https://example.com/" + "v" * 3000}),
        {"metadata.video_url"},
    ),
    "metadata-over-16k": (
        _body(metadata={**VIDEO, "notes": "x" * (16 * 1024)}),
        {"metadata"},
    ),
    "metadata-too-deep": (_body(metadata={**VIDEO, "a": _nested(300)}), {"metadata"}),
    "metadata-deep-253": (
        _body(metadata={**VIDEO, "a": _nested(253)}),
        {"metadata"},
    ),
    "unknown-field": (_body(priority="high"), {"priority"}),
    "unknown-deep-field": (_body(extra=_nested(300)), {"extra"}),
    "everything-wrong": (
        {"source_language": 1, "target_language": "??", "metadata": [], "x": 1},
        {"source_language", "target_language", "metadata", "x"},
    ),
}


@pytest.mark.parametrize(
    ("data", "fields"), INVALID_BODIES.values(), ids=INVALID_BODIES.keys()
)
async def test_translate_invalid_body_is_422_naming_fields(
    client, data, fields
) -> None:
    async with client.post("/translate", json=data) as response:
        body = await client.problem(response, 422)
    assert body["type"] == "/problems/validation-error"
    assert set(body["errors"]) == fields, body
    await _assert_no_jobs(client)


async def test_translate_body_over_64k_is_413_problem(client) -> None:
    data = _body(metadata={**VIDEO, "notes": "x" * (64 * 1024)})
    async with client.post("/translate", json=data) as response:
        await client.problem(response, 413)
    await _assert_no_jobs(client)


async def test_translate_chunked_body_over_64k_is_413_problem(client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"metadata": {"notes": "'
        for _ in range(80):
            yield b"x" * 1024
        yield b'"}}'

    headers = {"Content-Type": "application/json"}
    async with client.post("/translate", data=chunks(), headers=headers) as response:
        await client.problem(response, 413)
    await _assert_no_jobs(client)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_translate_undecodable_body_is_400_problem(client, encoding) -> None:
    headers = {"Content-Encoding": encoding, "Content-Type": "application/json"}
    data = b"\x00 not compressed at all"
    async with client.post("/translate", data=data, headers=headers) as response:
        await client.problem(response, 400)
    await _assert_no_jobs(client)


async def test_translate_gzip_body_is_decoded(client) -> None:
    data = gzip.compress(orjson.dumps(_body()))
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/json"}
    async with client.post("/translate", data=data, headers=headers) as response:
        assert response.status == 202
    assert len(await client.job_ids()) == 1


async def test_translate_metadata_at_limits_is_accepted(client) -> None:
    notes = "x" * (16 * 1024 - 100)
    job_id = await client.submit(_body(metadata={**VIDEO, "notes": notes}))
    deep_id = await client.submit(_body(metadata={**VIDEO, "a": _nested(31)}))
    assert (await client.job(job_id))["metadata"]["notes"] == notes
    assert (await client.job(deep_id))["metadata"]["a"] == _nested(31)


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "has space", "tab\tkey"])
async def test_translate_bad_idempotency_key_is_422(client, key) -> None:
    headers = {"Idempotency-Key": key}
    async with client.post("/translate", json=_body(), headers=headers) as response:
        body = await client.problem(response, 422)
    assert "Idempotency-Key" in body["errors"]
    await _assert_no_jobs(client)


# --- ids, routes, methods ----------------------------------------------------------------

BAD_IDS = ["not-a-uuid", "1234", "%20", "z" * 80, "0000000000000000000000000000000g"]
ID_ROUTES = [
    ("GET", "/jobs/{}"),
    ("POST", "/jobs/{}/cancel"),
    ("POST", "/dlq/{}/replay"),
    ("GET", "/ws/job/{}"),
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
@pytest.mark.parametrize(("method", "route"), ID_ROUTES)
async def test_malformed_job_id_is_422_on_every_route(
    client, method, route, bad_id
) -> None:
    await client.submit()
    async with client.request(method, route.format(bad_id)) as response:
        body = await client.problem(response, 422)
    assert "job_id" in body["errors"]
    assert len(await client.job_ids()) == 1


async def test_malformed_job_id_refuses_websocket_upgrade(client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect("/ws/job/not-a-uuid")
    assert caught.value.status == 422


@pytest.mark.parametrize(
    "path", ["/ui/nope", "/nope", "/jobs/", "/translate/extra", "/dlq/x", "/ws/job/"]
)
async def test_unknown_route_is_404_problem(client, path) -> None:
    async with client.get(path) as response:
        await client.problem(response, 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/translate", "POST"),
        ("PUT", "/translate", "POST"),
        ("DELETE", "/jobs/{id}", "GET"),
        ("POST", "/jobs", "GET"),
        ("GET", "/jobs/{id}/cancel", "POST"),
        ("POST", "/metrics", "GET"),
        ("PATCH", "/dlq", "GET"),
    ],
)
async def test_wrong_method_is_405_problem_with_allow(
    client, method, path, allowed
) -> None:
    async with client.request(method, path.format(id=uuid.uuid4())) as response:
        await client.problem(response, 405)
        assert allowed in response.headers["Allow"]
    await _assert_no_jobs(client)
