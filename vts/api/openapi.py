"""GET /openapi.json: the OpenAPI 3.1 description of the API, assembled from the
openapi_* modules (one per area) and served."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from aiohttp import web

import vts
from vts.api import (
    openapi_admin,
    openapi_events,
    openapi_job_schemas,
    openapi_jobs,
    openapi_operations,
    openapi_problems,
    openapi_security,
    openapi_webhooks,
    openapi_websocket,
)
from vts.api.connections import PROBE_CONNECTIONS
from vts.api.openapi_spec import JSON
from vts.api.validation import MAX_BODY_BYTES

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
                **openapi_jobs.paths(),
                **openapi_events.paths(),
                **openapi_websocket.paths(),
                **openapi_operations.paths(),
                **openapi_admin.paths(),
                **openapi_webhooks.paths(),
            }
        ),
        "components": _components(),
    }


def _components() -> dict[str, Any]:
    """The shared parts; their order is the served document's, so keep it."""
    return {
        "schemas": {
            **openapi_job_schemas.schemas(),
            **openapi_problems.schemas(),
            **openapi_operations.schemas(),
            **openapi_websocket.schemas(),
            **openapi_admin.schemas(),
            "StreamReset": openapi_events.stream_reset_schema(),
            **openapi_webhooks.schemas(),
        },
        "parameters": {
            **openapi_jobs.parameters(),
            **openapi_websocket.parameters(),
            **openapi_admin.parameters(),
        },
        "headers": openapi_jobs.headers(),
        "responses": {**openapi_problems.responses(), **openapi_admin.responses()},
        "securitySchemes": openapi_security.SECURITY_SCHEMES,
    }


@functools.cache
def _spec_body() -> bytes:
    return orjson.dumps(build_spec())


async def serve_openapi(request: web.Request) -> web.Response:
    """GET /openapi.json: the document, serialized once per process."""
    return web.Response(body=_spec_body(), content_type=JSON)
