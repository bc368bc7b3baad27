"""From logged job versions to webhook messages: which endpoints get one, and its
body `{"type", "timestamp", "data"}` with the job snapshot as data, byte for byte."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import orjson

from vts.codec import parse_time
from vts.snapshot import Snapshot
from vts.webhooks.model import (
    Delivery,
    Endpoint,
    event_type,
    matching,
    new_message_id,
)


def message_body(kind: str, timestamp: str, snapshot: Snapshot) -> bytes:
    """The Standard Webhooks payload; `timestamp` is the change's RFC 3339 time."""
    head = orjson.dumps({"type": kind, "timestamp": timestamp})
    return head[:-1] + b',"data":' + snapshot.body + b"}"


def plan_deliveries(
    events: Sequence[tuple[int, Snapshot]],
    endpoints: Sequence[Endpoint],
    now: datetime,
) -> list[Delivery]:
    """One pending delivery, due `now`, per event per enabled endpoint of the event's
    tenant that asks for its type and existed when the job changed."""
    tenants = {e.tenant for e in endpoints}
    deliveries: list[Delivery] = []
    for seq, snapshot in events:
        if snapshot.tenant not in tenants:
            continue
        data = orjson.loads(snapshot.body)
        kind = event_type(
            snapshot.version, snapshot.status, data["progress"], data["stage"]
        )
        changed = parse_time(data["updated_at"]) or now
        for endpoint in matching(endpoints, snapshot.tenant, kind):
            if endpoint.created_at > changed:
                continue  # a change from before the endpoint existed
            deliveries.append(
                Delivery(
                    id=new_message_id(),
                    endpoint_id=endpoint.id,
                    tenant=snapshot.tenant,
                    event_seq=seq,
                    job_id=snapshot.job_id,
                    type=kind,
                    payload=message_body(kind, data["updated_at"], snapshot),
                    changed_at=changed,
                    created_at=now,
                    next_attempt_at=now,
                    updated_at=now,
                )
            )
    return deliveries
