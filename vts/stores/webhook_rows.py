"""Webhook endpoints and deliveries as table rows, for every store: the columns, in
order, and the conversions both ways. A store passes how it keeps a time (SQLite:
epoch seconds; Postgres: timestamptz, as is)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from vts.idempotency import IdempotencyClaim
from vts.stores.idempotency import reuse_error, scoped_key
from vts.webhooks.model import Delivery, DeliveryStatus, Endpoint
from vts.webhooks.port import Apply

ENDPOINT_COLUMNS = (
    "id, tenant, url, events, description, secret, previous_secret,"
    " previous_secret_expires_at, created_at, disabled_at, disabled_reason,"
    " failing_since, exhausted_streak"
)
DELIVERY_COLUMNS = (
    "id, endpoint_id, tenant, event_seq, job_id, type, payload, changed_at,"
    " created_at, status, attempts, schedule_base, next_attempt_at, last_status,"
    " last_response, last_error, updated_at, claimed_until"
)
# Qualified, for joins.
ENDPOINT_COLUMNS_E = ", ".join(f"e.{c.strip()}" for c in ENDPOINT_COLUMNS.split(","))
DELIVERY_COLUMNS_D = ", ".join(f"d.{c.strip()}" for c in DELIVERY_COLUMNS.split(","))
ENDPOINT_WIDTH = len(ENDPOINT_COLUMNS.split(","))
DELIVERY_WIDTH = len(DELIVERY_COLUMNS.split(","))

ToRow = Callable[[datetime | None], Any]
FromRow = Callable[[Any], datetime | None]


def _same(value: Any) -> Any:
    return value


def endpoint_values(e: Endpoint, time: ToRow = _same) -> tuple[Any, ...]:
    return (
        e.id,
        e.tenant,
        e.url,
        " ".join(e.events),
        e.description,
        e.secret,
        e.previous_secret,
        time(e.previous_secret_expires_at),
        time(e.created_at),
        time(e.disabled_at),
        e.disabled_reason,
        time(e.failing_since),
        e.exhausted_streak,
    )


def endpoint_from_row(row: Sequence[Any], time: FromRow = _same) -> Endpoint:
    created = time(row[8])
    assert created is not None
    return Endpoint(
        id=row[0],
        tenant=row[1],
        url=row[2],
        events=tuple(row[3].split()),
        description=row[4],
        secret=row[5],
        previous_secret=row[6],
        previous_secret_expires_at=time(row[7]),
        created_at=created,
        disabled_at=time(row[9]),
        disabled_reason=row[10],
        failing_since=time(row[11]),
        exhausted_streak=row[12],
    )


IDEMPOTENCY_COLUMNS = "idempotency_key, fingerprint"
"""Written with a new endpoint, after ENDPOINT_COLUMNS; never read back but to
answer a replay."""


def idempotency_values(
    endpoint: Endpoint, claim: IdempotencyClaim | None
) -> tuple[str | None, str | None]:
    if claim is None:
        return None, None
    return scoped_key(endpoint.tenant, claim.key), claim.fingerprint


def replayed(
    claim: IdempotencyClaim, fingerprint: str, endpoint: Endpoint
) -> tuple[Endpoint, bool]:
    """`create_endpoint`'s answer when the claim's key is taken: the endpoint that
    took it, or IdempotencyKeyReusedError if another body did."""
    error = reuse_error(claim, fingerprint)
    if error is not None:
        raise error
    return endpoint, False


def delivery_values(d: Delivery, time: ToRow = _same) -> tuple[Any, ...]:
    return (
        d.id,
        d.endpoint_id,
        d.tenant,
        d.event_seq,
        d.job_id,
        d.type,
        d.payload,
        time(d.changed_at),
        time(d.created_at),
        d.status.value,
        d.attempts,
        d.schedule_base,
        time(d.next_attempt_at),
        d.last_status,
        d.last_response,
        d.last_error,
        time(d.updated_at or d.created_at),
        time(d.claimed_until),
    )


def delivery_from_row(row: Sequence[Any], time: FromRow = _same) -> Delivery:
    changed, created = time(row[7]), time(row[8])
    assert changed is not None and created is not None
    return Delivery(
        id=row[0],
        endpoint_id=row[1],
        tenant=row[2],
        event_seq=row[3],
        job_id=row[4],
        type=row[5],
        payload=bytes(row[6]),
        changed_at=changed,
        created_at=created,
        status=DeliveryStatus(row[9]),
        attempts=row[10],
        schedule_base=row[11],
        next_attempt_at=time(row[12]),
        last_status=row[13],
        last_response=row[14],
        last_error=row[15],
        updated_at=time(row[16]),
        claimed_until=time(row[17]),
    )


def pairs_from_rows(
    rows: Sequence[Sequence[Any]], time: FromRow = _same
) -> dict[str, tuple[Delivery, Endpoint]]:
    """{delivery id: (delivery, endpoint)} of rows of DELIVERY_COLUMNS then
    ENDPOINT_COLUMNS; an endpoint in many rows is made once."""
    endpoints: dict[str, Endpoint] = {}
    found = {}
    for row in rows:
        values = tuple(row)
        endpoint = endpoints.get(values[1])  # the delivery's endpoint_id
        if endpoint is None:
            endpoint = endpoint_from_row(values[DELIVERY_WIDTH:], time)
            endpoints[endpoint.id] = endpoint
        found[values[0]] = (delivery_from_row(values[:DELIVERY_WIDTH], time), endpoint)
    return found


def placeholders(count: int, style: str) -> str:
    """`?,?,?` (SQLite) or `$1, $2, $3` (Postgres)."""
    if style == "?":
        return ",".join("?" * count)
    return ", ".join(f"${n}" for n in range(1, count + 1))


Recorded = tuple[Delivery, Endpoint] | None


def apply_attempts(
    found: dict[str, tuple[Delivery, Endpoint]],
    attempts: Sequence[tuple[str, Apply]],
) -> tuple[list[Recorded], list[Delivery], list[Endpoint], list[Endpoint]]:
    """`record_attempts` in memory: each attempt applied in order, to its delivery
    as read and its endpoint as the earlier attempts left it. Returns what each
    came to (None: the delivery is gone), the deliveries and the endpoints to
    write (those that changed), and the endpoints these attempts disabled."""
    endpoints = {e.id: e for _, e in found.values()}
    before = dict(endpoints)
    results: list[Recorded] = []
    deliveries = []
    for delivery_id, apply in attempts:
        pair = found.get(delivery_id)
        if pair is None:
            results.append(None)
            continue
        delivery, endpoint = apply(pair[0], endpoints[pair[1].id])
        endpoints[endpoint.id] = endpoint
        deliveries.append(delivery)
        results.append((delivery, endpoint))
    disabled = [
        e
        for e in endpoints.values()
        if e.disabled_at is not None and before[e.id].disabled_at is None
    ]
    changed = [e for e in endpoints.values() if e != before[e.id]]
    return results, deliveries, changed, disabled


def disabled_error(endpoint: Endpoint) -> str:
    """What a pending delivery of a newly disabled endpoint failed with."""
    return f"not sent: the endpoint was disabled ({endpoint.disabled_reason})"
