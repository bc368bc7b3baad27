"""The problem+json part of the OpenAPI document: the Problem schema and the
error responses operations share."""

from __future__ import annotations

from vts.api.openapi_spec import JSON, Schema, obj, problem


def schemas() -> dict[str, Schema]:
    return {
        "Problem": obj(
            {
                "type": {
                    "type": "string",
                    "format": "uri-reference",
                    "description": "Names the kind of problem; stable, safe to branch on.",
                    "examples": [
                        "/problems/validation-error",
                        "/problems/job-not-found",
                    ],
                },
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string", "format": "uri-reference"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Validation problems: field name -> what is wrong.",
                },
            },
            ["type", "title", "status", "detail", "instance"],
            description="An RFC 9457 problem detail.",
        ),
    }


def responses() -> dict[str, Schema]:
    return {
        "BadRequest": problem(
            "A malformed WebSocket handshake (a bad Sec-WebSocket-Key or "
            "Sec-WebSocket-Version)."
        ),
        "UpgradeRequired": {
            **problem("A plain HTTP request: this endpoint speaks only WebSocket."),
            "headers": {"Upgrade": {"schema": {"const": "websocket"}}},
        },
        "NotFound": problem(
            "No job has that id (or it is another tenant's, or it outlived "
            "VTS_RETENTION) (/problems/job-not-found); no API key has that id "
            "(/problems/key-not-found)."
        ),
        "Conflict": problem(
            "The job's state does not allow that (/problems/invalid-transition), or it "
            "kept changing (/problems/version-conflict)."
        ),
        "PayloadTooLarge": problem("The body is larger than the server accepts."),
        "UnsupportedMediaType": {
            **problem(
                "The body is not declared as application/json (a missing "
                "Content-Type included; a charset must be utf-8) "
                "(/problems/unsupported-media-type)."
            ),
            "headers": {"Accept-Post": {"schema": {"const": JSON}}},
        },
        "RequestTimeout": problem(
            "The body did not arrive within VTS_REQUEST_TIMEOUT "
            "(/problems/request-timeout); the connection is closed."
        ),
        "ValidationFailed": problem(
            "The request is not valid (/problems/validation-error; `errors` names each "
            "field or parameter; a query parameter given twice is refused too), or its "
            "Idempotency-Key was used with another body "
            "(/problems/idempotency-key-reused)."
        ),
        "Unavailable": problem(
            "The job store is unreachable (/problems/store-unavailable), or cannot "
            "write: its disk is full or it is read-only (/problems/store-not-writable), "
            "or VTS_MAX_CONNECTIONS connections are open and busy "
            "(/problems/too-many-connections; the connection is closed; probes and "
            "scrapes are still answered).",
            retry_after=True,
        ),
        "InternalError": problem("The server failed; the error was logged."),
    }
