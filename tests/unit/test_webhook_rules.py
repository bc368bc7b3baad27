"""Webhook rules that need no I/O: signatures (checked by the standardwebhooks
package), the retry schedule, event types, and when an endpoint is disabled."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from _support import T0, make_job
from _webhooks import endpoint
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from vts.domain import Claim, JobStatus, Progress, transition
from vts.snapshot import Snapshot
from vts.webhooks import signing
from vts.webhooks.messages import message_body, plan_deliveries
from vts.webhooks.model import (
    EXHAUSTED_LIMIT,
    FAILING_LIMIT,
    Attempt,
    Delivery,
    DeliveryStatus,
    Endpoint,
    after_attempt,
    event_type,
    new_secret,
)
from vts.webhooks.schedule import (
    DEFAULT_SCHEDULE,
    next_delay,
    parse_retry_after,
    parse_schedule,
)

BODY = b'{"type":"job.completed","timestamp":"2026-01-01T00:00:00.000Z","data":{}}'


def test_signatures_verify_with_the_standardwebhooks_package() -> None:
    old, new = new_secret(), new_secret()
    now = int(time.time())
    headers = signing.headers([new, old], "msg_1", now, BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert Webhook(secret).verify(BODY, headers) == orjson.loads(BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new).verify(BODY + b" ", headers)


def test_secrets_are_whsec_and_base64_of_at_least_24_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(signing.secret_bytes(secret)) >= 24
    assert new_secret() != secret


@pytest.mark.parametrize(
    ("raw", "steps"),
    [
        ("5s,5m,30m,2h,5h,10h,10h", DEFAULT_SCHEDULE),
        ("0.5s", (0.5,)),
        (" 50ms , 1d ", (0.05, 86400.0)),
    ],
)
def test_schedules_parse(raw: str, steps: tuple[float, ...]) -> None:
    assert parse_schedule(raw) == steps


def test_the_schedule_jitters_and_ends() -> None:
    schedule = (10.0, 100.0)
    assert next_delay(schedule, 1, 0.5) == 10.0
    assert next_delay(schedule, 1, 0.0) == pytest.approx(8.0)
    assert next_delay(schedule, 2, 0.999) == pytest.approx(119.96)
    assert next_delay(schedule, 3, 0.5) is None
    # Retry-After is honoured when it asks for longer, up to a day.
    assert next_delay(schedule, 1, 0.5, retry_after=60) == 60
    assert next_delay(schedule, 1, 0.5, retry_after=1) == 10.0
    assert next_delay(schedule, 1, 0.5, retry_after=10**9) == 86400


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after("Thu, 01 Jan 2026 00:02:00 GMT", now) == 120
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_event_types_follow_the_status_changes_of_a_job() -> None:
    job = make_job()
    claimed = transition(job, Claim("w", T0 + timedelta(seconds=30)), T0)
    progressed = transition(claimed, Progress(40, "transcribe"), T0)

    def kind(j: object) -> str:
        s = Snapshot.of(j)  # type: ignore[arg-type]
        data = orjson.loads(s.body)
        return event_type(s.version, s.status, data["progress"], data["stage"])

    assert [kind(j) for j in (job, claimed, progressed)] == [
        "job.pending",
        "job.processing",
        "job.progress",
    ]
    assert event_type(5, JobStatus.PENDING, 0, None) == "job.pending"  # a retry
    assert event_type(9, JobStatus.COMPLETED, 100, None) == "job.completed"


def test_messages_carry_the_snapshot_byte_for_byte() -> None:
    snapshot = Snapshot.of(make_job())
    body = message_body("job.pending", "2026-01-01T00:00:00.000Z", snapshot)
    assert body.endswith(b',"data":' + snapshot.body + b"}")
    assert orjson.loads(body) == {
        "type": "job.pending",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "data": orjson.loads(snapshot.body),
    }


def test_only_matching_enabled_endpoints_of_the_tenant_get_a_message() -> None:
    snapshot = Snapshot.of(make_job())
    wanted = endpoint(events=("job.pending",))
    others = [
        endpoint(events=("job.completed",)),
        endpoint("acme"),
        endpoint(disabled_at=T0),
        endpoint(created_at=T0 + timedelta(seconds=1)),  # after the change
    ]
    made = plan_deliveries([(7, snapshot)], [wanted, *others], T0)
    assert [(d.endpoint_id, d.event_seq, d.type) for d in made] == [
        (wanted.id, 7, "job.pending")
    ]
    assert made[0].id.startswith("msg_")


def test_an_endpoint_is_disabled_after_failing_for_five_days() -> None:
    delivery = plan_deliveries([(1, Snapshot.of(make_job()))], [endpoint()], T0)[0]
    failing = endpoint(failing_since=T0)
    _, still = after_attempt_at(delivery, failing, T0 + FAILING_LIMIT / 2)
    assert still.disabled_at is None
    later = T0 + FAILING_LIMIT
    _, off = after_attempt_at(delivery, failing, later)
    assert off.disabled_at == later
    assert "5 days" in (off.disabled_reason or "")


def test_an_endpoint_is_disabled_when_messages_in_a_row_use_up_the_schedule() -> None:
    delivery = plan_deliveries([(1, Snapshot.of(make_job()))], [endpoint()], T0)[0]
    e = endpoint()
    for n in range(1, EXHAUSTED_LIMIT + 1):
        failed, e = after_attempt(delivery, e, Attempt(500), T0, None)
        assert failed.status is DeliveryStatus.FAILED
        assert (e.disabled_at is not None) == (n == EXHAUSTED_LIMIT)
    ok, healthy = after_attempt(
        delivery, endpoint(exhausted_streak=3), Attempt(204), T0, None
    )
    assert ok.status is DeliveryStatus.SUCCEEDED
    assert (healthy.exhausted_streak, healthy.failing_since) == (0, None)


def after_attempt_at(
    delivery: Delivery, e: Endpoint, now: datetime
) -> tuple[Delivery, Endpoint]:
    return after_attempt(delivery, e, Attempt(503), now, 5.0)
