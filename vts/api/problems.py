"""RFC 9457 problem+json: the one place errors become HTTP responses."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import orjson
from aiohttp import web

from vts import errors

log = logging.getLogger(__name__)

PROBLEM_TYPE_BASE = "/problems/"
CONTENT_TYPE = "application/problem+json"

# Most specific class first: the first match decides the status.
STATUS_BY_ERROR: tuple[tuple[type[errors.VtsError], int], ...] = (
    (errors.IdempotencyKeyReusedError, 422),
    (errors.ValidationError, 422),
    (errors.UnsupportedMediaTypeError, 415),
    (errors.AuthenticationError, 401),
    (errors.PermissionDeniedError, 403),
    (errors.JobNotFoundError, 404),
    (errors.KeyNotFoundError, 404),
    (errors.WebhookNotFoundError, 404),
    (errors.TooManyRequestsError, 429),
    (errors.ConflictError, 409),
    (errors.VersionConflictError, 409),
    (errors.UnavailableError, 503),
)

# nginx's code for "the client closed the connection before the answer was sent":
# counted in vts_http_requests_total apart from the server's own errors; never sent.
CLIENT_CLOSED_REQUEST = 499

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BodyTimeoutError(TimeoutError):
    """The request body did not arrive within VTS_REQUEST_TIMEOUT.

    A TimeoutError, so that aiohttp, when it drains an unread body, stops quietly.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the request body did not arrive within {seconds:g}s "
            "(VTS_REQUEST_TIMEOUT): send it faster or in a new request"
        )


def client_gone(request: web.BaseRequest) -> bool:
    """True once the client's connection is closed: no answer can reach it."""
    transport = request.transport
    return transport is None or transport.is_closing()


def problem_body(
    status: int,
    code: str,
    detail: str,
    instance: str,
    *,
    title: str | None = None,
    field_errors: Mapping[str, str] | None = None,
) -> bytes:
    """An RFC 9457 problem document, serialized."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if field_errors:
        body["errors"] = dict(field_errors)
    return orjson.dumps(body)


def problem_response(
    status: int,
    code: str,
    detail: str,
    instance: str,
    *,
    title: str | None = None,
    field_errors: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    return web.Response(
        status=status,
        body=problem_body(
            status, code, detail, instance, title=title, field_errors=field_errors
        ),
        content_type=CONTENT_TYPE,
        headers=headers,
    )


def error_response(exc: errors.VtsError, instance: str) -> web.Response:
    status = next(
        (code for kind, code in STATUS_BY_ERROR if isinstance(exc, kind)), 500
    )
    headers = {"Retry-After": "1"} if status == 503 else None
    if isinstance(exc, errors.UnsupportedMediaTypeError):
        headers = {"Accept-Post": exc.accepted}  # W3C LDP 7.1, IANA-registered
    elif isinstance(exc, errors.AuthenticationError | errors.PermissionDeniedError):
        headers = {"WWW-Authenticate": www_authenticate(exc)}
    elif isinstance(exc, errors.TooManyRequestsError):
        headers = rate_limit_headers(exc)
    field_errors = exc.errors if isinstance(exc, errors.ValidationError) else None
    return problem_response(
        status,
        exc.code,
        exc.message,
        instance,
        title=(type(exc).__doc__ or "").strip().splitlines()[0] or None,
        field_errors=field_errors,
        headers=headers,
    )


def rate_limit_headers(exc: errors.TooManyRequestsError) -> dict[str, str]:
    """Retry-After, and the limit as the IETF httpapi RateLimit header fields
    (draft-ietf-httpapi-ratelimit-headers-10): structured-field lists."""
    window = "" if exc.window is None else f";w={exc.window}"
    return {
        "Retry-After": str(exc.retry_after),
        "RateLimit-Policy": f'"{exc.policy}";q={exc.quota}{window}',
        "RateLimit": f'"{exc.policy}";r={exc.remaining};t={exc.retry_after}',
    }


def www_authenticate(
    exc: errors.AuthenticationError | errors.PermissionDeniedError,
) -> str:
    """The RFC 6750 challenge: no error code when no key was sent (3.1)."""
    challenge = 'Bearer realm="vts"'
    if isinstance(exc, errors.PermissionDeniedError):
        return f'{challenge}, error="insufficient_scope", scope="{exc.scope}"'
    if exc.reason == "missing":
        return challenge
    return f'{challenge}, error="invalid_token", error_description="{exc.reason}"'


def http_exception_response(exc: web.HTTPException, instance: str) -> web.Response:
    status = exc.status
    code = HTTPStatus(status).phrase.lower().replace(" ", "-")
    detail = {
        404: f"no resource at {instance}",
        405: f"{exc.reason}: this resource does not accept that method",
        413: "the request body is larger than this server accepts",
        426: "this is a WebSocket endpoint: send a WebSocket upgrade request",
    }.get(status, exc.text or exc.reason)
    headers = {
        k: v for k, v in exc.headers.items() if k.lower() in ("allow", "upgrade")
    }
    return problem_response(status, code, detail, instance, headers=headers)


def instance_of(request: web.Request) -> str:
    """The problem's `instance`: the request path as a URI reference (percent-encoded)."""
    return quote(request.path, safe="/!$&'()*+,;=:@-._~")


@web.middleware
async def problem_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    """Turn every error into problem+json; never leak a traceback."""
    try:
        return await handler(request)
    except errors.VtsError as exc:
        return error_response(exc, instance_of(request))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return http_exception_response(exc, instance_of(request))
    except BodyTimeoutError as exc:
        response = problem_response(
            408, "request-timeout", str(exc), instance_of(request)
        )
        response.force_close()  # the rest of the body may still be on its way
        return response
    except Exception as exc:
        if not client_gone(request):
            return _unexpected_error(request, exc)
        # The client hung up (mid-body, say): nobody is left to answer, and it is
        # not the server's fault. Counted as 499 by request_metrics_middleware.
        log.debug("client closed the connection: %s %s", request.method, request.path)
        return web.Response(status=CLIENT_CLOSED_REQUEST)


def _unexpected_error(request: web.Request, exc: Exception) -> web.Response:
    if isinstance(exc, web.RequestPayloadError):
        # Raised while reading the body: a bad Content-Encoding, a broken chunk. The
        # rest of the body is unreadable, so end it here and close the connection
        # (aiohttp would otherwise try to drain it and log the same error again).
        request.content.feed_eof()
        return problem_response(
            400,
            "bad-request",
            "the request body could not be read: check its Content-Encoding",
            instance_of(request),
            headers={"Connection": "close"},
        )
    log.error("unhandled error on %s %s", request.method, request.path, exc_info=exc)
    return problem_response(
        500,
        "internal-error",
        "the server failed; the error was logged",
        instance_of(request),
    )
