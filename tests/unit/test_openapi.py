"""The OpenAPI document: valid 3.1, every route and every public job field in it."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from _openapi import METHODS, SEED_BODY, SPEC, component, documented, schema_errors
from _support import T0, make_job
from aiohttp.test_utils import TestClient, TestServer
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from vts.api.ui import UI_PATHS
from vts.api.validation import parse_job_request
from vts.app import create_app
from vts.codec import job_to_public
from vts.config import Settings
from vts.domain import JobError, JobStatus
from vts.errors import ValidationError


def test_openapi_document_is_valid_openapi_3_1() -> None:
    assert SPEC["openapi"].startswith("3.1.")
    validate(SPEC, cls=OpenAPIV31SpecValidator)
    assert SPEC["servers"] == [{"url": "/"}]
    assert "translation" in SPEC["info"]["description"]


def test_openapi_documents_every_route_and_nothing_else(tmp_path: Any) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db"))
    served = {
        (route.method, route.resource.canonical)
        for route in app.router.routes()
        if route.method != "HEAD"
        and route.resource is not None
        and route.resource.canonical not in UI_PATHS  # pages, not operations
    }
    described = {
        (method.upper(), path)
        for path, item in SPEC["paths"].items()
        for method in item
        if method in METHODS
    }
    assert served == described


def test_openapi_error_responses_are_problem_json() -> None:
    for path, item in SPEC["paths"].items():
        for method in METHODS & set(item):
            for status in item[method]["responses"]:
                response, _ = documented(method, path, int(status))
                if int(status) >= 400:
                    (schema,) = response["content"].values()
                    assert list(response["content"]) == ["application/problem+json"]
                    assert schema["schema"]["$ref"].endswith(("/Problem", "/NotReady"))


def test_openapi_job_schema_lists_every_public_field() -> None:
    schema = SPEC["components"]["schemas"]["Job"]
    keys = set(job_to_public(make_job()))
    assert set(schema["properties"]) == keys
    assert set(schema["required"]) == keys


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {
            "status": JobStatus.PROCESSING,
            "attempts": 1,
            "started_at": T0,
            "stage": "muxing",
        },
        {
            "status": JobStatus.COMPLETED,
            "progress": 100,
            "result": {"output_url": "https://media.example/x.mp4"},
            "completed_at": T0,
            "version": 4,
        },
        {
            "status": JobStatus.FAILED,
            "error": JobError("no-speech", "no speech was found", retryable=False),
            "completed_at": T0,
        },
    ],
    ids=["pending", "processing", "completed", "failed"],
)
def test_openapi_job_schema_accepts_every_job_state(changes: dict[str, Any]) -> None:
    job = job_to_public(make_job(**changes))
    assert schema_errors(component("Job"), job) == []
    message = {"type": "job", **job}
    assert schema_errors(component("ServerMessage"), message) == []


def _server_accepts(body: dict[str, Any]) -> bool:
    try:
        parse_job_request(body)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"source_language": "pt-BR", "target_language": "zh-Hant-TW"},
        {"source_language": "sr-Latn-RS", "target_language": "de-CH-1901"},
        {"source_language": "es-419", "target_language": "en-US-x-twain"},
        {"source_language": "english"},
        {"source_language": "en_US"},
        {"target_language": "es-"},
        {"target_language": 7},
        {"extra": 1},
        {"metadata": {"video_url": "HTTPS://example.com/v.mp4", "title": "x"}},
        {"metadata": {"video_url": "ftp://example.com/v.mp4"}},
        {"metadata": {"video_url": "https:///v.mp4"}},
        {"metadata": {"video_url": "https://example.com/a b"}},
        {"metadata": {"title": "no url"}},
        {"metadata": "https://example.com/v.mp4"},
    ],
)
def test_openapi_request_schema_agrees_with_the_server(changes: dict[str, Any]) -> None:
    body = {**SEED_BODY, **changes}
    accepted = schema_errors(component("CreateJobRequest"), body) == []
    assert accepted == _server_accepts(body)


def test_openapi_rejects_what_it_should() -> None:
    """The schemas are not vacuous: a wrong job and a wrong problem fail them."""
    job = job_to_public(make_job())
    assert schema_errors(component("Job"), {**job, "status": "lost"}) != []
    del job["version"]
    assert schema_errors(component("Job"), job) != []
    problem = {
        "type": "/problems/x",
        "title": "t",
        "status": "unavailable",
        "detail": "",
        "instance": "/",
    }
    assert schema_errors(component("Problem"), problem) != []


async def test_openapi_is_served_as_json(tmp_path: Any) -> None:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path}/x.db"), workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        async with client.get("/openapi.json") as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert await response.json() == orjson.loads(orjson.dumps(SPEC))


def test_openapi_protected_operations_declare_the_key_and_401_403() -> None:
    from vts.api.auth import PUBLIC_PATHS

    assert SPEC["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, item in SPEC["paths"].items():
        for method in METHODS & set(item):
            operation = item[method]
            codes = set(operation["responses"])
            if path in PUBLIC_PATHS:
                assert "security" not in operation and "401" not in codes, path
            elif path == "/metrics":  # only with VTS_METRICS_KEY
                assert operation["security"] == [{}, {"bearer": []}]
                assert "401" in codes
            else:
                assert operation["security"] == [{"bearer": []}], (method, path)
                assert {"401", "403"} <= codes, (method, path)
