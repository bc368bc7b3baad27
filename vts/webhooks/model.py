"""Webhook endpoints and deliveries, the event types, and the rules that decide
them. Pure: no I/O, no clock (time is passed in)."""

from __future__ import annotations

import base64
import enum
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from vts.domain import JobStatus

STATUS_TYPES = tuple(f"job.{status.value}" for status in JobStatus)
PROGRESS_TYPE = "job.progress"
EVENT_TYPES = (*STATUS_TYPES, PROGRESS_TYPE)
"""Every type an endpoint may ask for; `["*"]` asks for all of them."""
ALL_TYPES = "*"
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)
FAILING_LIMIT = timedelta(days=5)
"""An endpoint whose attempts have all failed for this long is disabled."""
EXHAUSTED_LIMIT = 5
"""...as is one whose last EXHAUSTED_LIMIT messages in a row used up the schedule."""
RESPONSE_KEEP_BYTES = 1024


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@attrs.frozen
class Endpoint:
    """A tenant's receiver. Secrets are never in a repr (logs)."""

    id: str
    tenant: str
    url: str
    events: tuple[str, ...]
    description: str
    secret: str = attrs.field(repr=False)
    created_at: datetime
    previous_secret: str | None = attrs.field(default=None, repr=False)
    previous_secret_expires_at: datetime | None = None
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    exhausted_streak: int = 0

    def wants(self, event_type: str) -> bool:
        if ALL_TYPES in self.events:
            return True
        return event_type in self.events

    def signing_secrets(self, now: datetime) -> list[str]:
        """The current secret, and the previous one while it is still valid."""
        valid = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret is not None and expires is not None and now < expires:
            valid.append(self.previous_secret)
        return valid


@attrs.frozen
class Delivery:
    """One message to one endpoint; `id` is its Standard Webhooks message id,
    the same on every attempt."""

    id: str
    endpoint_id: str
    tenant: str
    event_seq: int
    job_id: str
    type: str
    payload: bytes = attrs.field(repr=False)
    changed_at: datetime
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    schedule_base: int = 0
    """`attempts` when the schedule (re)started: a manual retry restarts it."""
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_response: str | None = None
    last_error: str | None = None
    updated_at: datetime | None = None
    claimed_until: datetime | None = None
    """Set while a sender owns it (to send it, or to record how that went)."""


@attrs.frozen
class Reservation:
    """Sender slots set aside while the dispatcher makes deliveries: those it makes
    within them are claimed as they are inserted and sent at once, without a
    claim of their own (the rest wait for a sender's claim)."""

    slots: int
    in_flight: dict[str, int]
    per_endpoint: int
    lease_until: datetime

    def claim(self, deliveries: Sequence[Delivery]) -> list[Delivery]:
        """`deliveries`, those within the slots and the per-endpoint cap claimed."""
        slots, busy = self.slots, dict(self.in_flight)
        claimed = []
        for delivery in deliveries:
            if slots > 0 and busy.get(delivery.endpoint_id, 0) < self.per_endpoint:
                slots -= 1
                busy[delivery.endpoint_id] = busy.get(delivery.endpoint_id, 0) + 1
                delivery = attrs.evolve(delivery, claimed_until=self.lease_until)
            claimed.append(delivery)
        return claimed


def new_endpoint_id() -> str:
    return "ep_" + secrets.token_hex(12)


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_secret() -> str:
    """`whsec_` + base64 of SECRET_BYTES random bytes (Standard Webhooks)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def event_type(version: int, status: JobStatus, progress: int, stage: Any) -> str:
    """The webhook type of one logged job version, from its own fields.

    Every transition but a progress report changes the status (domain.transition),
    so a version that is not `processing` is a status change (or the creation,
    version 1). A processing version is the claim when it shows what a claim sets,
    progress 0 and no stage; otherwise it is a progress report. A report of 0 %
    with no stage right after a claim is therefore sent as `job.processing` again:
    receivers drop versions they have seen, as they must anyway (at least once).
    The rule needs no earlier version, so every replica decides alike.
    """
    if version == 1 or status is not JobStatus.PROCESSING:
        return f"job.{status.value}"
    if progress == 0 and stage is None:
        return f"job.{status.value}"
    return PROGRESS_TYPE


def check_events(raw: object) -> tuple[str, ...]:
    """The `events` of an endpoint request; ValueError naming what is accepted."""
    accepted = f'["*"] or a non-empty list of: {", ".join(EVENT_TYPES)}'
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"must be {accepted}")
    if raw == [ALL_TYPES]:
        return (ALL_TYPES,)
    if not all(isinstance(e, str) and e in EVENT_TYPES for e in raw):
        raise ValueError(f"must be {accepted}")
    return tuple(dict.fromkeys(raw))


@attrs.frozen
class Attempt:
    """What one send of a delivery came to."""

    status: int | None
    """The HTTP status; None when no answer came (refused, timed out, unreachable)."""
    response: str | None = None
    error: str | None = None
    retry_after_header: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def after_attempt(
    delivery: Delivery,
    endpoint: Endpoint,
    attempt: Attempt,
    now: datetime,
    delay: float | None,
) -> tuple[Delivery, Endpoint]:
    """The delivery and its endpoint once `attempt` is recorded; `delay` is the
    wait before the next attempt, None when the schedule is used up.

    The endpoint is disabled at once by `410 Gone`, and when it has failed for
    FAILING_LIMIT or used up the schedule on EXHAUSTED_LIMIT messages in a row.
    """
    # One evolve per result (this runs for every attempt, in the store's write).
    recorded: dict[str, Any] = {
        "attempts": delivery.attempts + 1,
        "last_status": attempt.status,
        "last_response": _text(attempt.response),
        "last_error": _text(attempt.error),
        "updated_at": now,
    }
    if attempt.ok:
        done = attrs.evolve(
            delivery, **recorded, status=DeliveryStatus.SUCCEEDED, next_attempt_at=None
        )
        if endpoint.failing_since is None and not endpoint.exhausted_streak:
            return done, endpoint
        return done, attrs.evolve(endpoint, failing_since=None, exhausted_streak=0)
    failing = attrs.evolve(endpoint, failing_since=endpoint.failing_since or now)
    if attempt.status == 410:
        gone = "the receiver answered 410 Gone"
        failed = attrs.evolve(delivery, **recorded, status=DeliveryStatus.FAILED)
        return failed, _disabled(failing, now, gone)
    if delay is not None:
        retry_at = now + timedelta(seconds=delay)
        retry = attrs.evolve(delivery, **recorded, next_attempt_at=retry_at)
        return retry, _disable_if_failing_long(failing, now)
    failed = attrs.evolve(
        delivery, **recorded, status=DeliveryStatus.FAILED, next_attempt_at=None
    )
    streak = attrs.evolve(failing, exhausted_streak=failing.exhausted_streak + 1)
    if streak.exhausted_streak >= EXHAUSTED_LIMIT:
        reason = (
            f"the retry schedule was used up on {EXHAUSTED_LIMIT} messages in a row"
        )
        return failed, _disabled(streak, now, reason)
    return failed, _disable_if_failing_long(streak, now)


def _text(value: str | None) -> str | None:
    """A receiver's words as a text column holds them: no NUL and no lone
    surrogate (Postgres refuses both)."""
    if value is None:
        return None
    return value.replace("\x00", "\ufffd").encode(errors="replace").decode()


def _disable_if_failing_long(endpoint: Endpoint, now: datetime) -> Endpoint:
    since = endpoint.failing_since
    if since is not None and now - since >= FAILING_LIMIT:
        days = FAILING_LIMIT.days
        return _disabled(endpoint, now, f"every attempt failed for {days} days")
    return endpoint


def _disabled(endpoint: Endpoint, now: datetime, reason: str) -> Endpoint:
    if endpoint.disabled_at is not None:
        return endpoint
    return attrs.evolve(endpoint, disabled_at=now, disabled_reason=reason)


def matching(endpoints: Sequence[Endpoint], tenant: str, kind: str) -> list[Endpoint]:
    """The enabled endpoints of `tenant` that ask for `kind`."""
    return [
        e
        for e in endpoints
        if e.tenant == tenant and e.disabled_at is None and e.wants(kind)
    ]
