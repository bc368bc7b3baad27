"""The OpenAPI description of GET /events, the resumable Server-Sent Events stream."""

from __future__ import annotations

from vts.api.events_stream import EVENT_ID_PATTERN, MAX_JOB_IDS, STALL_SECONDS
from vts.api.openapi_spec import Schema, obj, param_ref, problem, ref
from vts.events.streams import HEARTBEAT_SECONDS

EVENTS_DESCRIPTION = f"""\
Every stored version of the caller's tenant's jobs (an admin's: every tenant's, or
the one `tenant` or `VTS-Tenant` names), in the order they were committed, as
[Server-Sent Events](https://html.spec.whatwg.org/multipage/server-sent-events.html).
Each event is

```
id: <sequence>
event: job
data: <the Job snapshot, one line of JSON>
```

The id increases along the stream; treat it as opaque. To resume, send the last id
received as `Last-Event-ID` (browsers' EventSource does so by itself) or as
`?last_event_id=`: the stream goes on **exactly** after that event, with no gap and no
duplicate, after a restart and on any replica. Without one it starts with changes
committed from the moment the response headers are sent; `last_event_id=0` replays
everything the server still keeps (VTS_EVENT_RETENTION, 24 h by default).

If events after the given id are no longer kept (or the id was never handed out, as
after a database was started over), the stream begins with

```
id: <sequence>
event: reset
data: {{"reason": "pruned" | "unknown", "detail": "..."}}
```

then goes on from the oldest event kept: refetch the state of the jobs you follow.

A comment line (`: ping`) is sent every {HEARTBEAT_SECONDS:g} s. A client that takes
no data for {STALL_SECONDS:g} s while the server has some to send is disconnected; it
may resume. Shutdown ends the stream; resume on another replica. Each job's versions
arrive in order, every one of them (`version` grows by one with each stored change).
`/ws/jobs` is live only (what happens while connected); this stream is durable and
resumable.
"""


def _event(name: str, data: Schema) -> Schema:
    """One kind of event: its `event` field, an id, and `data` holding JSON."""
    return obj(
        {
            "id": {"type": "string", "pattern": EVENT_ID_PATTERN},
            "event": {"const": name},
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        }
    )


def stream_reset_schema() -> Schema:
    """The data of an `event: reset`."""
    return obj(
        {
            "reason": {"enum": ["pruned", "unknown"]},
            "detail": {"type": "string"},
        },
        closed=True,
    )


def paths() -> dict[str, Schema]:
    event_id = {"type": "string", "pattern": EVENT_ID_PATTERN}
    return {
        "/events": {
            "get": {
                "operationId": "streamEvents",
                "tags": ["jobs"],
                "summary": "Every job change, as a resumable Server-Sent Events stream",
                "description": EVENTS_DESCRIPTION,
                "parameters": [
                    {
                        "name": "job_id",
                        "in": "query",
                        "schema": {
                            "type": "array",
                            "items": {"type": "string", "format": "uuid"},
                            "maxItems": MAX_JOB_IDS,
                        },
                        "style": "form",
                        "explode": True,
                        "description": "Only these jobs' events (repeat it, at most "
                        f"{MAX_JOB_IDS} times). Another tenant's job is never shown.",
                    },
                    {
                        "name": "Last-Event-ID",
                        "in": "header",
                        "schema": event_id,
                        "description": "Resume right after this event id.",
                    },
                    {
                        "name": "last_event_id",
                        "in": "query",
                        "schema": event_id,
                        "description": "Resume right after this event id, when the "
                        "header cannot be set; the header wins. 0: from the start.",
                    },
                    param_ref("TenantFilter"),
                    param_ref("ActAsTenant"),
                ],
                "responses": {
                    "200": {
                        "description": "The stream (open until the client or the "
                        "server ends it).",
                        "headers": {
                            "Cache-Control": {"schema": {"const": "no-cache"}},
                            "X-Accel-Buffering": {"schema": {"const": "no"}},
                        },
                        "content": {
                            "text/event-stream": {
                                # Each event of the stream (the OpenAPI 3.2 form
                                # of an SSE item), its data a JSON document.
                                "schema": {
                                    "oneOf": [
                                        _event("job", ref("Job")),
                                        _event("reset", ref("StreamReset")),
                                    ]
                                },
                                "example": 'id: 42\nevent: job\ndata: {"job_id": '
                                '"550e8400-e29b-41d4-a716-446655440000", ...}\n\n',
                            }
                        },
                    },
                    # Far more job ids than allowed make a request line aiohttp
                    # refuses: as too long (431), or, cut between reads, as
                    # unreadable (400). Either is problem+json.
                    "400": problem("A request line the server cannot read."),
                    "431": problem(
                        "A request line longer than 8190 bytes (say, far more "
                        "`job_id` values than allowed)."
                    ),
                    "422": {"$ref": "#/components/responses/ValidationFailed"},
                    "500": {"$ref": "#/components/responses/InternalError"},
                    "503": {"$ref": "#/components/responses/Unavailable"},
                },
            }
        }
    }
