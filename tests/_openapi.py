"""Checking answers against the OpenAPI document: its schemas, with $refs resolved."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp.test_utils import TestClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from vts.api.openapi import build_spec

SPEC_URI = "urn:vts:openapi"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
SEED_BODY: dict[str, Any] = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}
SPEC = build_spec()
REGISTRY = Registry().with_resource(
    SPEC_URI, Resource.from_contents(SPEC, default_specification=DRAFT202012)
)


def _pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def schema_errors(pointer: str, instance: Any) -> list[str]:
    """Why `instance` fails the schema at `pointer` in the spec ($refs resolved)."""
    validator = Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=REGISTRY,
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    return [
        f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(instance)
    ]


def component(name: str) -> str:
    return _pointer("components", "schemas", name)


def documented(method: str, path: str, status: int) -> tuple[dict[str, Any], str]:
    """The response the spec documents for this answer, and where it lives."""
    responses = SPEC["paths"][path][method]["responses"]
    assert str(status) in responses, f"{method.upper()} {path} {status} is undocumented"
    where = _pointer("paths", path, method, "responses", str(status))
    response = responses[str(status)]
    if "$ref" in response:
        name = response["$ref"].rsplit("/", 1)[1]
        where = _pointer("components", "responses", name)
        response = SPEC["components"]["responses"][name]
    return response, where


async def answer(
    client: TestClient, method: str, url: str, path: str, status: int, **kwargs: Any
) -> Any:
    """Call the API; assert the status, content type, headers and body are documented."""
    async with client.request(method.upper(), url, **kwargs) as response:
        text = await response.text()
        assert response.status == status, text
        spec_response, where = documented(method, path, status)
        (media_type,) = spec_response["content"]
        assert response.content_type == media_type
        body = text if media_type.startswith("text/") else orjson.loads(text)
        pointer = where + _pointer("content", media_type, "schema")
        assert schema_errors(pointer, body) == []
        headers = spec_response.get("headers", {})
        for name in ("Location", "Retry-After", "Idempotent-Replayed", "Accept-Post"):
            assert (name not in response.headers) or (name in headers), name
        return body
