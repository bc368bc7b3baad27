"""The exceptions the client raises; every one derives from TranslationClientError.

TranslationClientError
├── APIError                  the server answered with an RFC 9457 problem (4xx/5xx)
│   ├── ValidationError           400, 413, 422: the request is not valid
│   │   └── IdempotencyKeyReusedError   the key was sent before with another body
│   ├── AuthenticationError       401: no API key, or an unknown, expired or revoked one
│   ├── PermissionDeniedError     403: the API key lacks the scope the request needs
│   ├── NotFoundError             404: no such job (or another tenant's)
│   ├── ConflictError             409: the job's state does not allow it
│   ├── RateLimitedError          429 (after retries)
│   └── ServerError               5xx
│       └── ServiceUnavailableError   502, 503, 504 (after retries)
├── TransportError            no answer: connection refused, reset, timed out (after retries)
├── JobError                  the job ended without completing
│   ├── JobFailedError            status "failed"; `.error` is the job's error
│   └── JobCancelledError         status "cancelled"
├── WaitTimeoutError          wait_for_completion ran out of time (also a TimeoutError)
└── WebhookVerificationError  webhooks.verify refused a delivery
    ├── WebhookSignatureError     headers missing, or no signature matches the secret
    └── WebhookTimestampError     webhook-timestamp too far from now (a replay?)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from translation_client._models import Job, JobErrorInfo


class TranslationClientError(Exception):
    """Something went wrong talking to vts."""


class APIError(TranslationClientError):
    """The server answered with an error (an RFC 9457 problem).

    `status` is the HTTP status, `type` the problem type URI (e.g.
    `/problems/job-not-found`), `title` its summary, `detail` what went wrong in this
    case, and `errors` maps each invalid request field to its problem. `retry_after`
    is the delay in seconds the server asked for (`Retry-After`), if it sent one.
    `answer_lost` is true when an earlier attempt of the same request got no answer
    (a connection error, a timeout, a proxy's 502 or 504): it may have been done.
    """

    answer_lost: bool = False

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        type: str = "about:blank",
        errors: Mapping[str, str] | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.title = title
        self.detail = detail
        self.type = type
        self.errors: dict[str, str] = dict(errors or {})
        super().__init__(f"{detail or title} (HTTP {status})")

    @property
    def code(self) -> str:
        """The last segment of the problem type: `job-not-found`, `validation-error`."""
        return self.type.rstrip("/").rsplit("/", 1)[-1]


class ValidationError(APIError):
    """The server rejected the request as invalid (400, 413 or 422)."""


class IdempotencyKeyReusedError(ValidationError):
    """The Idempotency-Key was already used with a different request body (422)."""


class AuthenticationError(APIError):
    """The server did not accept the API key (401): none was sent, or it is unknown,
    expired or revoked. Never retried: the same key gets the same answer."""


class PermissionDeniedError(APIError):
    """The API key is valid but lacks the scope the request needs (403); never
    retried."""


class NotFoundError(APIError):
    """No job has that id (404); a job of another tenant looks exactly the same."""


class ConflictError(APIError):
    """The job's current state does not allow the request (409)."""


class RateLimitedError(APIError):
    """The server asked the client to slow down (429), and retries ran out."""


class ServerError(APIError):
    """The server failed (5xx)."""


class ServiceUnavailableError(ServerError):
    """The server or a backend it needs is unavailable (502, 503, 504)."""


class TransportError(TranslationClientError):
    """The server could not be reached, or the connection broke, after every retry."""


class JobError(TranslationClientError):
    """The job reached a final status other than completed; `.job` is its snapshot."""

    def __init__(self, job: Job, message: str) -> None:
        self.job = job
        super().__init__(message)


class JobFailedError(JobError):
    """The job failed; `.error` holds its `{code, message, retryable}`."""

    def __init__(self, job: Job) -> None:
        self.error: JobErrorInfo | None = job.get("error")
        reason = self.error["message"] if self.error else "no reason given"
        super().__init__(job, f"job {job['job_id']} failed: {reason}")


class JobCancelledError(JobError):
    """The job was cancelled."""

    def __init__(self, job: Job) -> None:
        super().__init__(job, f"job {job['job_id']} was cancelled")


class WaitTimeoutError(TranslationClientError, TimeoutError):
    """The job did not reach a final status in time; `.job` is the last one seen."""

    def __init__(self, job_id: str, timeout: float, job: Job | None = None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.job = job
        status = f" (last status: {job['status']})" if job else ""
        super().__init__(f"job {job_id} did not finish within {timeout:g}s{status}")


_BY_CODE: dict[str, type[APIError]] = {
    "idempotency-key-reused": IdempotencyKeyReusedError,
    "job-not-found": NotFoundError,
}
_BY_STATUS: dict[int, type[APIError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    413: ValidationError,
    422: ValidationError,
    429: RateLimitedError,
    502: ServiceUnavailableError,
    503: ServiceUnavailableError,
    504: ServiceUnavailableError,
}


def error_class(status: int, problem_type: str) -> type[APIError]:
    """The most specific APIError subclass for a status and problem type."""
    code = problem_type.rstrip("/").rsplit("/", 1)[-1]
    if code in _BY_CODE:
        return _BY_CODE[code]
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return ServerError if status >= 500 else APIError


def api_error(
    status: int,
    body: bytes,
    reason: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """The typed error for an HTTP error response, built from its problem body.

    A body that is not a problem object (a proxy's HTML page, say) still gives an
    error with the status, the reason phrase as title and the start of the text.
    """
    problem: dict[str, Any] = {}
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        problem = parsed
    title = _text(problem.get("title")) or reason or _phrase(status)
    detail = _text(problem.get("detail"))
    if not detail and not problem:
        detail = body.decode("utf-8", "replace").strip()[:200]
    problem_type = _text(problem.get("type")) or "about:blank"
    raw_errors = problem.get("errors")
    errors = (
        {str(k): str(v) for k, v in raw_errors.items()}
        if isinstance(raw_errors, dict)
        else None
    )
    if errors and not detail:
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items())
    cls = error_class(status, problem_type)
    return cls(status, title, detail, problem_type, errors, retry_after)


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class WebhookVerificationError(TranslationClientError):
    """A webhook delivery failed verification: do not act on it."""


class WebhookSignatureError(WebhookVerificationError):
    """The Standard Webhooks headers are missing or malformed, or no signature in
    `webhook-signature` was made with the secret over this body."""


class WebhookTimestampError(WebhookVerificationError):
    """`webhook-timestamp` is further from now than the tolerance: an old message
    replayed, or a clock far off. `timestamp` is the header's value."""

    def __init__(self, message: str, timestamp: int) -> None:
        self.timestamp = timestamp
        super().__init__(message)
