"""problem_middleware: every error becomes RFC 9457 problem+json with its documented status."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from vts import errors
from vts.api.problems import BodyTimeoutError, problem_middleware

# The documented class -> status table (README "Errors", openapi.json).
CASES: dict[type[errors.VtsError], tuple[errors.VtsError, int]] = {
    errors.ValidationError: (
        errors.ValidationError(errors={"target_language": "required"}),
        422,
    ),
    errors.IdempotencyKeyReusedError: (errors.IdempotencyKeyReusedError(), 422),
    errors.UnsupportedMediaTypeError: (
        errors.UnsupportedMediaTypeError("send JSON", "application/json"),
        415,
    ),
    errors.AuthenticationError: (
        errors.AuthenticationError("the API key is revoked", "revoked"),
        401,
    ),
    errors.PermissionDeniedError: (
        errors.PermissionDeniedError("this API key lacks the dlq scope", "dlq"),
        403,
    ),
    errors.JobNotFoundError: (errors.JobNotFoundError("0f1e2d3c"), 404),
    errors.KeyNotFoundError: (errors.KeyNotFoundError("0123456789ab"), 404),
    errors.WebhookNotFoundError: (errors.WebhookNotFoundError(), 404),
    errors.DeliveryNotFoundError: (errors.DeliveryNotFoundError(), 404),
    errors.TooManyRequestsError: (
        errors.TooManyRequestsError(
            "slow down",
            policy="requests",
            quota=5,
            remaining=0,
            retry_after=2,
            window=1,
        ),
        429,
    ),
    errors.QuotaExceededError: (
        errors.QuotaExceededError(
            "too many jobs", policy="active-jobs", quota=3, remaining=0, retry_after=1
        ),
        429,
    ),
    errors.RateLimitedError: (
        errors.RateLimitedError(
            "slow down",
            policy="requests",
            quota=1,
            remaining=0,
            retry_after=4,
            window=4,
        ),
        429,
    ),
    errors.ConflictError: (errors.ConflictError(), 409),
    errors.InvalidTransitionError: (
        errors.InvalidTransitionError("cannot cancel a job that is completed"),
        409,
    ),
    errors.VersionConflictError: (errors.VersionConflictError(), 409),
    errors.UnavailableError: (errors.UnavailableError(), 503),
    errors.StoreUnavailableError: (errors.StoreUnavailableError("db is down"), 503),
    errors.StoreNotWritableError: (errors.StoreNotWritableError("disk full"), 503),
    errors.BrokerUnavailableError: (errors.BrokerUnavailableError(), 503),
    # Not meant to reach a handler; if one does, it is a server error.
    errors.VtsError: (errors.VtsError(), 500),
    errors.ConfigError: (errors.ConfigError(), 500),
    errors.InvalidSettingError: (
        errors.InvalidSettingError("VTS_PORT", "x", "a port"),
        500,
    ),
    errors.UnknownPluginError: (
        errors.UnknownPluginError("vts.processors", "x", []),
        500,
    ),
    errors.PluginError: (errors.PluginError(), 500),
    errors.MissingDependencyError: (
        errors.MissingDependencyError("asyncpg", "postgres"),
        500,
    ),
    errors.ProcessingError: (errors.ProcessingError(), 500),
    errors.TransientError: (errors.TransientError(code="asr-overloaded"), 500),
    errors.PermanentError: (errors.PermanentError(code="no-speech"), 500),
}
SECRET = "password=hunter2 at /srv/vts/secret.py line 12"


async def raise_case(request: web.Request) -> web.Response:
    raise CASES[getattr(errors, request.match_info["name"])][0]


async def raise_unknown(request: web.Request) -> web.Response:
    raise RuntimeError(SECRET)


async def slow_body(request: web.Request) -> web.Response:
    raise BodyTimeoutError(2.5)


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    """A tiny app with only the problem middleware, on a real loopback port."""
    app = web.Application(middlewares=[problem_middleware])
    app.router.add_get("/raise/{name}", raise_case)
    app.router.add_get("/boom", raise_unknown)
    app.router.add_get("/ok", ok)
    app.router.add_post("/slow", slow_body)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        yield client


def test_every_vts_error_has_a_documented_status() -> None:
    def tree(cls: type[errors.VtsError]) -> set[type[errors.VtsError]]:
        return {cls}.union(*(tree(sub) for sub in cls.__subclasses__()))

    in_vts = {cls for cls in tree(errors.VtsError) if cls.__module__ == "vts.errors"}
    assert in_vts == set(CASES)


@pytest.mark.parametrize("kind", list(CASES), ids=lambda kind: kind.__name__)
async def test_problem_middleware_maps_error_to_problem_json(
    client: TestClient[web.Request, web.Application], kind: type[errors.VtsError]
) -> None:
    exc, status = CASES[kind]
    response = await client.get(f"/raise/{kind.__name__}")
    assert response.status == status
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type="application/problem+json")
    expected_keys = {"type", "title", "status", "detail", "instance"}
    if isinstance(exc, errors.ValidationError):
        expected_keys.add("errors")
        assert body["errors"] == exc.errors
    assert set(body) == expected_keys
    assert body["type"] == f"/problems/{exc.code}"
    assert body["status"] == status
    assert body["detail"] == exc.message
    assert body["instance"] == f"/raise/{kind.__name__}"
    assert isinstance(body["title"], str) and body["title"]
    if status == 503:
        assert int(response.headers["Retry-After"]) >= 1
    elif status == 429:  # when to retry, and the limit in the IETF draft's fields
        assert isinstance(exc, errors.TooManyRequestsError)
        wait = exc.retry_after
        assert response.headers["Retry-After"] == str(wait)
        window = "" if exc.window is None else f";w={exc.window}"
        assert response.headers["RateLimit-Policy"] == (
            f'"{exc.policy}";q={exc.quota}{window}'
        )
        assert response.headers["RateLimit"] == f'"{exc.policy}";r=0;t={wait}'
    else:
        assert "Retry-After" not in response.headers
    if status == 415:  # names what the resource accepts instead
        assert response.headers["Accept-Post"] == "application/json"
    # RFC 6750 3: a 401 or 403 names the Bearer scheme and why.
    challenge = {
        401: 'Bearer realm="vts", error="invalid_token", error_description="revoked"',
        403: 'Bearer realm="vts", error="insufficient_scope", scope="dlq"',
    }
    assert response.headers.get("WWW-Authenticate") == challenge.get(status)


async def test_problem_title_is_fixed_per_class() -> None:
    app = web.Application(middlewares=[problem_middleware])
    details: list[str] = []

    async def not_found(request: web.Request) -> web.Response:
        raise errors.JobNotFoundError(request.match_info["job_id"])

    app.router.add_get("/jobs/{job_id}", not_found)
    titles = set()
    async with TestClient(TestServer(app, host="127.0.0.1")) as other:
        for job_id in ("a", "b"):
            body = await (await other.get(f"/jobs/{job_id}")).json(content_type=None)
            titles.add(body["title"])
            details.append(body["detail"])
    assert len(titles) == 1
    assert details == ["no job with id a", "no job with id b"]


async def test_problem_middleware_unknown_error_is_generic_500(
    client: TestClient[web.Request, web.Application],
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = await client.get("/boom")
    assert response.status == 500
    assert response.content_type == "application/problem+json"
    text = await response.text()
    for leak in ("Traceback", "RuntimeError", "hunter2", "secret.py", "raise_unknown"):
        assert leak not in text
    body = await response.json(content_type=None)
    assert body["status"] == 500
    assert body["instance"] == "/boom"
    assert set(body) == {"type", "title", "status", "detail", "instance"}
    # The details go to the log, for operators.
    assert any(r.exc_info and r.exc_info[0] is RuntimeError for r in caplog.records)


async def test_problem_middleware_unknown_route_is_404_problem(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/nowhere")
    assert response.status == 404
    assert response.content_type == "application/problem+json"
    body = await response.json(content_type=None)
    assert (body["status"], body["instance"]) == (404, "/nowhere")


async def test_problem_middleware_wrong_method_is_405_with_allow(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/ok")
    assert response.status == 405
    assert response.content_type == "application/problem+json"
    assert "GET" in response.headers["Allow"]


async def test_problem_middleware_passes_successes_through(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.get("/ok")
    assert response.status == 200
    assert await response.json() == {"ok": True}


async def test_problem_middleware_body_timeout_is_408_and_closes(
    client: TestClient[web.Request, web.Application],
) -> None:
    response = await client.post("/slow")
    assert response.status == 408
    assert response.content_type == "application/problem+json"
    assert response.headers["Connection"] == "close"
    body = await response.json(content_type=None)
    assert body["type"] == "/problems/request-timeout"
    assert "2.5s (VTS_REQUEST_TIMEOUT)" in body["detail"]
