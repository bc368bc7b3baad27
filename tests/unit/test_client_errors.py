"""The client's exception tree, built from the problem+json bodies vts really sends."""

from __future__ import annotations

import json
import subprocess
import sys
from http import HTTPStatus

import pytest
import translation_client
from _support import make_job
from translation_client import (
    APIError,
    AuthenticationError,
    ConflictError,
    IdempotencyKeyReusedError,
    JobCancelledError,
    JobFailedError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TranslationClientError,
    ValidationError,
    WaitTimeoutError,
)
from translation_client._errors import api_error

from vts import errors
from vts.api.problems import error_response
from vts.domain import JobError, JobStatus
from vts.snapshot import Snapshot

SERVER_ERRORS: list[tuple[errors.VtsError, type[APIError], int]] = [
    (
        errors.ValidationError(errors={"source_language": "required"}),
        ValidationError,
        422,
    ),
    (errors.IdempotencyKeyReusedError(), IdempotencyKeyReusedError, 422),
    (errors.JobNotFoundError("abc"), NotFoundError, 404),
    (errors.InvalidTransitionError("cannot cancel"), ConflictError, 409),
    (errors.StoreUnavailableError("db down"), ServiceUnavailableError, 503),
    (errors.VtsError(), ServerError, 500),
]


@pytest.mark.parametrize(("server_error", "expected", "status"), SERVER_ERRORS)
def test_client_error_from_each_server_problem(
    server_error: errors.VtsError, expected: type[APIError], status: int
) -> None:
    response = error_response(server_error, "/translate")
    assert response.body is not None and response.status == status
    error = api_error(response.status, bytes(response.body), response.reason)
    assert type(error) is expected
    assert isinstance(error, TranslationClientError)
    assert error.status == status
    assert error.type == f"/problems/{server_error.code}"
    assert error.code == server_error.code
    assert error.detail == server_error.message
    assert error.title and str(error) == f"{server_error.message} (HTTP {status})"


def test_client_error_keeps_field_errors() -> None:
    response = error_response(
        errors.ValidationError(errors={"metadata.video_url": "required"}), "/translate"
    )
    error = api_error(422, bytes(response.body or b""))
    assert error.errors == {"metadata.video_url": "required"}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, ValidationError),
        (413, ValidationError),
        (401, AuthenticationError),
        (403, PermissionDeniedError),
        (404, NotFoundError),
        (409, ConflictError),
        (429, RateLimitedError),
        (418, APIError),
        (500, ServerError),
        (502, ServiceUnavailableError),
        (504, ServiceUnavailableError),
    ],
)
def test_client_error_from_a_body_that_is_no_problem(
    status: int, expected: type[APIError]
) -> None:
    error = api_error(status, b"<html>Bad Gateway</html>", None)
    assert type(error) is expected
    assert error.type == "about:blank"
    assert error.detail == "<html>Bad Gateway</html>"
    assert error.title  # the reason phrase, e.g. "Bad Gateway"


def test_client_error_from_an_empty_or_odd_body() -> None:
    assert api_error(503, b"", "Service Unavailable").title == "Service Unavailable"
    odd = api_error(422, b'{"title": 5, "errors": ["x"], "detail": null}')
    assert (odd.title, odd.detail, odd.errors) == (HTTPStatus(422).phrase, "", {})


def test_client_job_errors_carry_the_job() -> None:
    failed = _job(JobStatus.FAILED, error=JobError("x", "boom", retryable=False))
    error = JobFailedError(failed)
    assert error.job is failed and error.error == failed["error"]
    assert str(error) == f"job {failed['job_id']} failed: boom"
    cancelled = JobCancelledError(_job(JobStatus.CANCELLED))
    assert "was cancelled" in str(cancelled)


def test_client_wait_timeout_is_both_kinds_of_error() -> None:
    error = WaitTimeoutError("abc", 2.5)
    assert isinstance(error, TimeoutError) and isinstance(error, TranslationClientError)
    assert str(error) == "job abc did not finish within 2.5s"


def test_client_exports_everything_it_documents() -> None:
    for name in translation_client.__all__:
        assert hasattr(translation_client, name), name
    tree = translation_client._errors.__doc__ or ""
    for name, value in vars(translation_client._errors).items():
        if isinstance(value, type) and issubclass(value, Exception):
            if value.__module__ == "translation_client._errors":
                assert name in translation_client.__all__, name
                assert name in tree, f"{name} missing from the drawn tree"


def test_client_never_imports_vts() -> None:
    code = (
        "import sys, translation_client, translation_client._cli;"
        "bad = [m for m in sys.modules if m == 'vts' or m.startswith('vts.')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _job(status: JobStatus, **changes: object) -> translation_client.Job:
    job = json.loads(Snapshot.of(make_job(status=status, **changes)).body)
    return job  # type: ignore[no-any-return]


def test_api_error_carries_the_servers_retry_after() -> None:
    body = b'{"type":"/problems/store-unavailable","title":"t","status":503,"detail":"down"}'

    error = api_error(503, body, "Service Unavailable", 2.5)

    assert isinstance(error, ServiceUnavailableError)
    assert error.retry_after == 2.5
    assert api_error(404, b"{}").retry_after is None


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        (401, "unauthorized", AuthenticationError),
        (401, "api-key-expired", AuthenticationError),
        (403, "forbidden", PermissionDeniedError),
        # Another tenant's job is a 404 exactly like an unknown one.
        (404, "job-not-found", NotFoundError),
    ],
)
def test_client_auth_problems_pick_their_class_by_status(
    status: int, code: str, expected: type[APIError]
) -> None:
    body = json.dumps(
        {"type": f"/problems/{code}", "title": "t", "status": status, "detail": "d"}
    ).encode()
    error = api_error(status, body)
    assert type(error) is expected and error.code == code
    assert not isinstance(error, ValidationError | ServerError)
