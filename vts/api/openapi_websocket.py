"""The OpenAPI description of the WebSocket endpoints: the protocol, the handshake,
the messages and the two paths."""

from __future__ import annotations

from typing import Any

from vts.api.openapi_spec import Schema, obj, operation, param_ref, ref
from vts.api.outbox import CLOSE_TRY_AGAIN_LATER, MAX_BUFFERED_BYTES
from vts.api.ws import HEARTBEAT_SECONDS, MAX_INCOMING_BYTES, MAX_SUBSCRIBE_IDS

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


def _message(
    kind: str,
    properties: dict[str, Schema] | None = None,
    required: list[str] | None = None,
    **extra: Any,
) -> Schema:
    """A WebSocket message: a JSON object whose `type` names it."""
    fields = {"type": {"const": kind}, **(properties or {})}
    return obj(fields, required, **extra)


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
        param_ref(name)
        for name in ("Upgrade", "Connection", "WebSocketKey", "WebSocketVersion")
    ]
    return operation(
        operation_id,
        "websocket",
        summary,
        {"101": switching},
        description=description,
        parameters=[*handshake, *extra.pop("parameters", [])],
        **extra,
    )


def paths() -> dict[str, Schema]:
    return {
        "/ws/job/{job_id}": {
            "get": _websocket(
                "watchJob",
                "Watch one job over WebSocket",
                WS_PROTOCOL,
                errors=("400", "404", "422", "426", "503"),
            ),
            "parameters": [param_ref("JobId")],
        },
        "/ws/jobs": {
            "get": _websocket(
                "watchJobs",
                "Watch many jobs, or all, over WebSocket",
                WS_PROTOCOL + "\n" + WS_JOBS_PROTOCOL,
                errors=("400", "422", "426"),
                parameters=[param_ref("All")],
            )
        },
    }


def schemas() -> dict[str, Schema]:
    ids = {
        "type": "array",
        "items": {"type": "string", "format": "uuid"},
        "maxItems": MAX_SUBSCRIBE_IDS,
    }
    return {
        "JobMessage": {
            "allOf": [ref("Job"), _message("job")],
            "description": "The job's snapshot with type job: sent on connect or subscribe, "
            "then once per change.",
        },
        "PongMessage": _message("pong", description="The answer to a ping."),
        "ErrorMessage": _message(
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
        "PingMessage": _message("ping", description="Asks for a pong."),
        "SubscribeMessage": _message(
            "subscribe",
            {"job_ids": ids},
            description="/ws/jobs only: watch these jobs too; each is sent its snapshot.",
        ),
        "UnsubscribeMessage": _message(
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


def parameters() -> dict[str, Schema]:
    return {
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
