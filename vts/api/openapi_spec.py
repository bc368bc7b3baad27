"""The reusable parts of the OpenAPI document: schemas, parameters, headers, responses."""

from __future__ import annotations

from typing import Any

from vts.api.jobs import CREATED_MESSAGE, RETRY_AFTER_SECONDS
from vts.api.urls import MAX_URL_LENGTH, VIDEO_URL_PATTERN
from vts.api.validation import (
    BCP47_PATTERN,
    DEFAULT_PAGE,
    IDEMPOTENCY_KEY_PATTERN,
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    MAX_PAGE,
)
from vts.api.ws import MAX_SUBSCRIBE_IDS
from vts.domain import STAGES, JobStatus

Schema = dict[str, Any]

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
EXAMPLE_ID = "550e8400-e29b-41d4-a716-446655440000"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: dict[str, Schema],
    required: list[str] | None = None,
    *,
    closed: bool = False,
    **extra: Any,
) -> Schema:
    """An object schema; every property is required unless `required` says otherwise."""
    schema: Schema = {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        **extra,
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def message(
    kind: str,
    properties: dict[str, Schema] | None = None,
    required: list[str] | None = None,
    **extra: Any,
) -> Schema:
    """A WebSocket message: a JSON object whose `type` names it."""
    fields = {"type": {"const": kind}, **(properties or {})}
    return obj(fields, required, **extra)


def _job_schemas() -> dict[str, Schema]:
    timestamp = {
        "type": "string",
        "format": "date-time",
        "examples": ["2026-01-01T12:00:00.000Z"],
    }
    return {
        "JobStatus": {
            "type": "string",
            "enum": [status.value for status in JobStatus],
            "description": "pending -> processing -> completed; a failed attempt goes back to "
            "pending while attempts are left, else to failed (dead-lettered). "
            "completed, failed and cancelled are final.",
        },
        "LanguageTag": {
            "type": "string",
            "pattern": BCP47_PATTERN,
            "description": "A BCP 47 language tag (RFC 5646), such as en or pt-BR.",
            "examples": ["en", "pt-BR", "zh-Hant-TW"],
        },
        "JobMetadata": {
            "type": "object",
            "required": ["video_url"],
            "properties": {
                "video_url": {
                    "type": "string",
                    "format": "uri",
                    "pattern": VIDEO_URL_PATTERN,
                    "maxLength": MAX_URL_LENGTH,
                    "description": "The video to translate: an http or https URL with a host, "
                    "non-ASCII characters percent-encoded (RFC 3986), without user info "
                    "(pass a token in a signed query string). Unless the server sets "
                    "VTS_ALLOW_PRIVATE_URLS, a host that is not public is a 422: an IP "
                    "literal in any spelling that is loopback, private, link-local "
                    "(169.254.169.254), shared, unspecified, multicast or reserved, and "
                    "localhost, *.localhost, *.local, *.internal, *.home.arpa or a "
                    "single-label name.",
                }
            },
            "additionalProperties": True,
            "description": "The video and any other fields the caller wants kept with the "
            f"job; at most {MAX_METADATA_BYTES} bytes as JSON, nested at most "
            f"{MAX_METADATA_DEPTH} levels.",
            "examples": [{"video_url": "https://example.com/video.mp4"}],
        },
        "JobError": obj(
            {
                "code": {
                    "type": "string",
                    "examples": ["transient-error", "lease-lost"],
                },
                "message": {"type": "string"},
                "retryable": {"type": "boolean"},
            },
            description="Why the job's last attempt failed.",
        ),
        "Job": obj(
            {
                "job_id": {"type": "string", "format": "uuid"},
                "tenant": {
                    "type": "string",
                    "description": "The tenant of the key that created it.",
                },
                "status": ref("JobStatus"),
                "source_language": ref("LanguageTag"),
                "target_language": ref("LanguageTag"),
                "metadata": ref("JobMetadata"),
                "progress": {"type": "integer", "minimum": 0, "maximum": 100},
                "stage": {
                    "type": ["string", "null"],
                    "description": "The running attempt's pipeline stage; null before "
                    "the first progress report.",
                    "examples": list(STAGES),
                },
                "attempts": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Attempts that ended in a failure or a success, "
                    "plus the running one. An attempt cut short by a lost lease or "
                    "a shutdown is not counted.",
                },
                "max_attempts": {"type": "integer", "minimum": 1},
                "lease_losses": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "How many times the worker running the job was "
                    "lost (killed, crashed or stalled) and the job ran again; at "
                    "VTS_MAX_LEASE_LOSSES it fails with error code `lease-lost`.",
                },
                "error": nullable(ref("JobError")),
                "result": {
                    "type": ["object", "null"],
                    "description": "What the processor produced; set when completed.",
                    "examples": [
                        {
                            "output_url": "https://media.example/job/es.mp4",
                            "subtitles_url": "https://media.example/job/es.vtt",
                            "duration_seconds": 12.5,
                        }
                    ],
                },
                "created_at": timestamp,
                "updated_at": timestamp,
                "started_at": {**timestamp, "type": ["string", "null"]},
                "completed_at": {**timestamp, "type": ["string", "null"]},
                "version": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Grows by one with every change; a watcher ignores a "
                    "version it has already seen.",
                },
            },
            description="A translation job as clients see it. Timestamps are UTC, ISO 8601, "
            "millisecond precision.",
        ),
        "JobList": obj(
            {
                "jobs": {"type": "array", "items": ref("Job")},
                "next_cursor": {
                    "type": ["string", "null"],
                    "description": "Pass as `cursor` for the next page; null on the last.",
                },
            },
            closed=True,
        ),
        "JobCounts": obj(
            {
                "counts": obj(
                    {
                        status.value: {"type": "integer", "minimum": 0}
                        for status in JobStatus
                    },
                    closed=True,
                )
            },
            closed=True,
            description="How many jobs are in each status, counted at most 2 s ago.",
        ),
        "CreateJobRequest": obj(
            {
                "source_language": ref("LanguageTag"),
                "target_language": ref("LanguageTag"),
                "metadata": ref("JobMetadata"),
            },
            closed=True,
            description="target_language must differ from source_language (ignoring case).",
            examples=[
                {
                    "source_language": "en",
                    "target_language": "es",
                    "metadata": {"video_url": "https://example.com/video.mp4"},
                }
            ],
        ),
        "CreateJobResponse": obj(
            {
                "job_id": {"type": "string", "format": "uuid"},
                "status": ref("JobStatus"),
                "message": {"type": "string", "examples": [CREATED_MESSAGE]},
            },
            closed=True,
            examples=[
                {"job_id": EXAMPLE_ID, "status": "pending", "message": CREATED_MESSAGE}
            ],
        ),
    }


def _other_schemas() -> dict[str, Schema]:
    ids = {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "maxItems": MAX_SUBSCRIBE_IDS,
    }
    checks = obj(
        {"store": {"type": "string"}, "broker": {"type": "string"}},
        description='Each port: "ok" or "unavailable: <reason>".',
    )
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
        "Health": obj({"status": {"const": "ok"}}),
        "Readiness": obj({"status": {"const": "ready"}, "checks": checks}),
        "NotReady": {
            "allOf": [ref("Problem"), obj({"checks": checks})],
            "description": "A Problem with each port's check.",
        },
        "JobMessage": {
            "allOf": [ref("Job"), message("job")],
            "description": "The job's snapshot with type job: sent on connect or subscribe, "
            "then once per change.",
        },
        "PongMessage": message("pong", description="The answer to a ping."),
        "ErrorMessage": message(
            "error",
            {
                "code": {
                    "type": "string",
                    "examples": [
                        "malformed-message",
                        "unknown-message",
                        "too-many-ids",
                        "job-not-found",
                        "validation-error",
                    ],
                },
                "detail": {"type": "string"},
                "job_id": {
                    "type": "string",
                    "description": "The id a subscribe failed for.",
                },
            },
            ["type", "code", "detail"],
            description="A message the server could not act on; the connection stays open.",
        ),
        "PingMessage": message("ping", description="Asks for a pong."),
        "SubscribeMessage": message(
            "subscribe",
            {"job_ids": ids},
            description="/ws/jobs only: watch these jobs too; each is sent its snapshot.",
        ),
        "UnsubscribeMessage": message(
            "unsubscribe", {"job_ids": ids}, description="/ws/jobs only: stop watching."
        ),
        "ClientMessage": _union(
            "PingMessage", "SubscribeMessage", "UnsubscribeMessage"
        ),
        "ServerMessage": _union("JobMessage", "PongMessage", "ErrorMessage"),
    }


def _union(*names: str) -> Schema:
    return {
        "oneOf": [ref(name) for name in names],
        "discriminator": {
            "propertyName": "type",
            "mapping": {
                name.removesuffix("Message").lower(): f"#/components/schemas/{name}"
                for name in names
            },
        },
    }


def _parameters() -> dict[str, Schema]:
    return {
        "JobId": {
            "name": "job_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
            "description": "A job id; anything but a UUID is a 422.",
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE,
                "default": DEFAULT_PAGE,
            },
        },
        "Status": {
            "name": "status",
            "in": "query",
            "schema": ref("JobStatus"),
            "description": "Only jobs in this status.",
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"},
            "description": "The next_cursor of the previous page; opaque.",
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "schema": {
                "type": "string",
                "pattern": IDEMPOTENCY_KEY_PATTERN,
            },
            "description": "Retrying with the same key and body returns the first job "
            "(Idempotent-Replayed: true); the same key with another body is a 422.",
        },
        # The WebSocket handshake (RFC 6455 section 4.1), as a client library sends it.
        "Upgrade": {
            "name": "Upgrade",
            "in": "header",
            "required": True,
            "schema": {
                "type": "string",
                "pattern": "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$",
            },
            "description": "websocket (any case).",
        },
        "Connection": {
            "name": "Connection",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": "[Uu][Pp][Gg][Rr][Aa][Dd][Ee]"},
            "description": "A list that includes Upgrade, e.g. `Upgrade` or "
            "`keep-alive, Upgrade` (as browsers send it).",
        },
        "WebSocketKey": {
            "name": "Sec-WebSocket-Key",
            "in": "header",
            "required": True,
            "schema": {"type": "string", "pattern": "^[A-Za-z0-9+/]{21}[AQgw]==$"},
            "description": "16 random bytes, base64-encoded.",
        },
        "WebSocketVersion": {
            "name": "Sec-WebSocket-Version",
            "in": "header",
            "required": True,
            "schema": {"const": "13"},
        },
        "All": {
            "name": "all",
            "in": "query",
            "schema": {
                "type": "string",
                "pattern": "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)$",
                "default": "false",
            },
            "description": "true streams every job's changes, without subscribing.",
        },
    }


def _headers() -> dict[str, Schema]:
    return {
        "RetryAfter": {
            "description": "Seconds to wait before polling (or retrying) again.",
            "schema": {"type": "string", "examples": [RETRY_AFTER_SECONDS]},
        },
        "Location": {
            "description": "The new job: /jobs/{job_id}.",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        },
        "IdempotentReplayed": {
            "description": "Present (true) when an Idempotency-Key matched an earlier request.",
            "schema": {"const": "true"},
        },
    }


def problem(
    description: str, *, retry_after: bool = False, schema: str = "Problem"
) -> Schema:
    """An error response: always application/problem+json."""
    response: Schema = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": ref(schema)}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"$ref": "#/components/headers/RetryAfter"}
        }
    return response


def _responses() -> dict[str, Schema]:
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


def components() -> Schema:
    return {
        "schemas": {**_job_schemas(), **_other_schemas()},
        "parameters": _parameters(),
        "headers": _headers(),
        "responses": _responses(),
    }
