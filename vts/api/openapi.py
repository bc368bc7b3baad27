"""GET /openapi.json: the OpenAPI 3.1 description of the API."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from aiohttp import web

import vts
from vts.api import (
    openapi_admin,
    openapi_events,
    openapi_security,
    openapi_webhooks,
)
from vts.api.connections import PROBE_CONNECTIONS
from vts.api.openapi_spec import JSON, Schema, components, problem, ref
from vts.api.outbox import CLOSE_TRY_AGAIN_LATER, MAX_BUFFERED_BYTES
from vts.api.validation import MAX_BODY_BYTES
from vts.api.ws import (
    HEARTBEAT_SECONDS,
    MAX_INCOMING_BYTES,
    MAX_SUBSCRIBE_IDS,
)

DESCRIPTION = f"""\
vts runs video translation jobs. Submit one with `POST /translate` (languages as BCP 47
tags, the video as `metadata.video_url`); it is stored durably and answered with `202`
and its id. Workers take pending jobs under a lease, retry transient failures with
backoff, and dead-letter a job that fails permanently or runs out of attempts
(`GET /dlq`, `POST /dlq/{{job_id}}/replay`). Poll `GET /jobs/{{job_id}}` (it sends
`Retry-After` until the job is final) or watch it over WebSocket: `/ws/job/{{job_id}}`
for one job, `/ws/jobs` for many or all.

Every error is an RFC 9457 `application/problem+json` body whose `type`
(`/problems/<code>`) is stable. Request bodies are limited to {MAX_BODY_BYTES} bytes and
must be sent as `Content-Type: application/json` (else `415`). A query parameter may be
given once: a repeated one is a `422` naming it.

Before any operation sees it, a request may be answered by the connection itself,
which then closes: `400` (`/problems/bad-request`) or `431`
(`/problems/request-header-fields-too-large`) when it cannot be parsed as HTTP/1.1,
`408` (`/problems/request-timeout`) when its body is slower than VTS_REQUEST_TIMEOUT,
and `503` (`/problems/too-many-connections`, `Retry-After`) when VTS_MAX_CONNECTIONS
connections are open and busy. Then `GET /healthz`, `/readyz` and `/metrics` are
still answered, on one of {PROBE_CONNECTIONS} connections kept above the cap for
probes and scrapes (closed after the answer). Headers slower than
VTS_REQUEST_TIMEOUT are not answered: the connection is closed.

Every operation but `/healthz`, `/readyz`, `/openapi.json` (and `/metrics`, unless
VTS_METRICS_KEY is set) needs an API key (see the `bearer` security scheme): none or a
bad, expired or revoked one is a `401`, a key without the operation's scope a `403`. Each
key belongs to one tenant and sees only that tenant's jobs: another tenant's job is a
`404`, exactly like an unknown id. A tenant over its request rate, or creating a job
(or replaying a dead letter) with its `max_active_jobs` active, gets a `429` with
`Retry-After` and the `RateLimit` and `RateLimit-Policy` fields; nothing is changed.
"""

WS_PROTOCOL = f"""\
The connection is upgraded with a standard WebSocket handshake (`Upgrade: websocket`);
every message is one JSON object in a text frame, named by its `type`.

Server messages (`ServerMessage`): `job` (a `JobMessage`: the `Job` snapshot plus
`"type": "job"`), `pong`, and `error` (`ErrorMessage`; the connection stays open).
A watcher gets each job's current snapshot first, then one message per change, and never
a `version` it has already been sent. Progress is stored (and pushed) at most once per
VTS_PROGRESS_INTERVAL (0.1 s) per job, newest report first; a status change always is.

Client messages (`ClientMessage`): `{{"type": "ping"}}` is answered with a `pong`.
The server also sends WebSocket pings every {HEARTBEAT_SECONDS:g} s. Client messages may be
at most {MAX_INCOMING_BYTES} bytes. A watcher too far behind (more than
{MAX_BUFFERED_BYTES // 1024 // 1024} MiB unread beyond what the kernel buffers) is closed with code
{CLOSE_TRY_AGAIN_LATER} (try again later): reconnect and resync from the snapshot.
Shutdown closes with 1001 (going away).
"""

WS_JOBS_PROTOCOL = f"""\
`{{"type": "subscribe", "job_ids": [...]}}` adds up to {MAX_SUBSCRIBE_IDS} jobs (each is
sent its snapshot, or an `error` naming its `job_id`); `{{"type": "unsubscribe",
"job_ids": [...]}}` removes them. With `?all=true` every job of the caller's tenant (an
admin's: of every tenant) is streamed; another tenant's job is `job-not-found`.
"""


def _json(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def _param(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def _response(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def _header(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


def _operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Schema],
    *,
    errors: tuple[str, ...] = (),
    **extra: Any,
) -> Schema:
    """An operation; `errors` names shared problem responses, and every one may fail 500."""
    shared = {
        "400": "BadRequest",
        "404": "NotFound",
        "408": "RequestTimeout",
        "409": "Conflict",
        "413": "PayloadTooLarge",
        "415": "UnsupportedMediaType",
        "422": "ValidationFailed",
        "426": "UpgradeRequired",
        "503": "Unavailable",
    }
    all_responses = dict(responses)
    for code in errors:
        all_responses[code] = _response(shared[code])
    all_responses["500"] = _response("InternalError")
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": dict(sorted(all_responses.items())),
        **extra,
    }


def _links(*operation_ids: str) -> Schema:
    """What a client can do next with the job id in this response's body."""
    return {
        operation_id[0].upper() + operation_id[1:]: {
            "operationId": operation_id,
            "parameters": {"job_id": "$response.body#/job_id"},
        }
        for operation_id in operation_ids
    }


def _job_response(description: str, *next_steps: str) -> Schema:
    return _json(
        description,
        ref("Job"),
        headers={"Retry-After": _header("RetryAfter")},
        links=_links(*next_steps),
    )


def _websocket(
    operation_id: str, summary: str, description: str, **extra: Any
) -> Schema:
    switching = {
        "description": "Switching Protocols: the WebSocket is open. " + description,
        "headers": {
            "Upgrade": {"schema": {"const": "websocket"}},
            "Connection": {"schema": {"type": "string", "examples": ["upgrade"]}},
            "Sec-WebSocket-Accept": {"schema": {"type": "string"}},
        },
    }
    handshake = [
        _param(name)
        for name in ("Upgrade", "Connection", "WebSocketKey", "WebSocketVersion")
    ]
    return _operation(
        operation_id,
        "websocket",
        summary,
        {"101": switching},
        description=description,
        parameters=[*handshake, *extra.pop("parameters", [])],
        **extra,
    )


def _job_paths() -> dict[str, Schema]:
    job_id = [_param("JobId")]
    return {
        "/translate": {
            "post": _operation(
                "createJob",
                "jobs",
                "Submit a translation job",
                {
                    "202": _json(
                        "Accepted: the job is stored and pending.",
                        ref("CreateJobResponse"),
                        headers={
                            "Location": _header("Location"),
                            "Idempotent-Replayed": _header("IdempotentReplayed"),
                        },
                        links=_links("getJob", "cancelJob", "watchJob"),
                    )
                },
                errors=("408", "413", "415", "422", "503"),
                parameters=[_param("IdempotencyKey")],
                requestBody={
                    "required": True,
                    "content": {JSON: {"schema": ref("CreateJobRequest")}},
                },
            )
        },
        "/jobs": {
            "get": _operation(
                "listJobs",
                "jobs",
                "List jobs, newest first",
                {"200": _json("A page of jobs.", ref("JobList"))},
                errors=("422", "503"),
                parameters=[_param("Status"), _param("Limit"), _param("Cursor")],
            )
        },
        "/jobs/counts": {
            "get": _operation(
                "countJobs",
                "jobs",
                "Count jobs by status",
                {"200": _json("Jobs by status.", ref("JobCounts"))},
                errors=("422", "503"),
            )
        },
        "/jobs/{job_id}": {
            "get": _operation(
                "getJob",
                "jobs",
                "A job's current state",
                {
                    "200": _job_response(
                        "The job; Retry-After while it is not final.",
                        "cancelJob",
                        "replayDeadLetter",
                    )
                },
                errors=("404", "422", "503"),
            ),
            "parameters": job_id,
        },
        "/jobs/{job_id}/cancel": {
            "post": _operation(
                "cancelJob",
                "jobs",
                "Cancel a pending or processing job",
                {"200": _job_response("The cancelled job.", "getJob")},
                errors=("404", "409", "422", "503"),
            ),
            "parameters": job_id,
        },
        "/dlq": {
            "get": _operation(
                "listDeadLetters",
                "dead letters",
                "Dead-lettered (failed) jobs, most recent first",
                {
                    "200": _json(
                        "Failed jobs; next_cursor is always null.", ref("JobList")
                    )
                },
                errors=("422", "503"),
                parameters=[_param("Limit")],
            )
        },
        "/dlq/{job_id}/replay": {
            "post": _operation(
                "replayDeadLetter",
                "dead letters",
                "Start a failed job over with fresh attempts",
                {
                    "202": _job_response(
                        "Accepted: the job is pending again.", "getJob", "cancelJob"
                    )
                },
                errors=("404", "409", "422", "503"),
            ),
            "parameters": job_id,
        },
    }


def _other_paths() -> dict[str, Schema]:
    return {
        "/ws/job/{job_id}": {
            "get": _websocket(
                "watchJob",
                "Watch one job over WebSocket",
                WS_PROTOCOL,
                errors=("400", "404", "422", "426", "503"),
            ),
            "parameters": [_param("JobId")],
        },
        "/ws/jobs": {
            "get": _websocket(
                "watchJobs",
                "Watch many jobs, or all, over WebSocket",
                WS_PROTOCOL + "\n" + WS_JOBS_PROTOCOL,
                errors=("400", "422", "426"),
                parameters=[_param("All")],
            )
        },
        "/metrics": {
            "get": _operation(
                "metrics",
                "operations",
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/healthz": {
            "get": _operation(
                "healthz",
                "operations",
                "Liveness: the process serves",
                {"200": _json("Alive.", ref("Health"))},
            )
        },
        "/readyz": {
            "get": _operation(
                "readyz",
                "operations",
                "Readiness: the job store answers and can write (a broker outage "
                "only degrades)",
                {
                    "200": _json("Ready.", ref("Readiness")),
                    "503": problem(
                        "The job store is unreachable (/problems/store-unavailable), "
                        "or answers but cannot write: its disk is full or it is "
                        "read-only (/problems/store-not-writable).",
                        retry_after=True,
                        schema="NotReady",
                    ),
                },
            )
        },
        "/openapi.json": {
            "get": _operation(
                "openapi",
                "operations",
                "This document",
                {"200": _json("The OpenAPI 3.1 description.", {"type": "object"})},
            )
        },
    }


def build_spec() -> dict[str, Any]:
    """The OpenAPI 3.1 document; every route in api/routes.py appears here (a test checks)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "vts: video translation service",
            "version": vts.__version__,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "jobs"},
            {"name": "dead letters"},
            {"name": "websocket", "description": "Push updates; see each operation."},
            {"name": "operations"},
            {"name": "admin", "description": "API keys and tenants (scope admin)."},
            {"name": "webhooks", "description": openapi_webhooks.DESCRIPTION},
        ],
        "paths": openapi_security.secure(
            {
                **_job_paths(),
                **openapi_events.paths(),
                **_other_paths(),
                **openapi_admin.paths(),
                **openapi_webhooks.paths(),
            }
        ),
        "components": _components(),
    }


def _components() -> dict[str, Any]:
    parts = components()
    parts["schemas"].update(openapi_admin.schemas())
    parts["schemas"]["StreamReset"] = openapi_events.stream_reset_schema()
    parts["schemas"].update(openapi_webhooks.schemas())
    parts["responses"].update(openapi_admin.responses())
    parts["parameters"].update(openapi_admin.parameters())
    parts["securitySchemes"] = openapi_security.SECURITY_SCHEMES
    return parts


@functools.cache
def _spec_body() -> bytes:
    return orjson.dumps(build_spec())


async def serve_openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: the document, serialized once per process."""
    return web.Response(body=_spec_body(), content_type=JSON)
