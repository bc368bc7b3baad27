"""Signed webhooks end to end: a real receiver on loopback verifies every delivery
with the `standardwebhooks` package; retries keep the message id; 410 disables."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from _support import wait_until
from _webhooks import Receiver

from vts.keys import store_key
from vts.webhooks.sender import SAFETY_SECONDS
from vts.webhooks.slots import PER_ENDPOINT

FAST_RETRIES = (0.05, 0.05, 0.05)
ServerFactory = Any  # tests/integration/conftest.py
VtsClient = Any


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    yield made
    await made.stop()


async def hooked(
    app_server: ServerFactory, receiver: Receiver, events: list[str], **changes: Any
) -> tuple[VtsClient, dict[str, Any]]:
    """A server delivering to `receiver` (allow-private: it is on loopback), and the
    endpoint it made for `events`; the receiver knows the secret."""
    client = await app_server(webhook_allow_private=True, **changes)
    body = {"url": receiver.url, "events": events, "description": "test receiver"}
    async with client.post("/webhooks", json=body) as response:
        assert response.status == 201, await response.text()
        created: dict[str, Any] = await response.json()
    receiver.secret = created["secret"]
    return client, created


async def deliveries(client: VtsClient, endpoint_id: str) -> list[dict[str, Any]]:
    async with client.get(f"/webhooks/{endpoint_id}/deliveries") as response:
        assert response.status == 200, await response.text()
        found: list[dict[str, Any]] = (await response.json())["deliveries"]
        return found


async def test_a_finished_job_is_delivered_signed_per_standard_webhooks(
    app_server: ServerFactory, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, created = await hooked(app_server, receiver, ["job.completed"])
    assert set(created) == {
        "id",
        "url",
        "events",
        "description",
        "created_at",
        "secret",
    }
    assert created["secret"].startswith("whsec_")
    job_id = await client.submit()
    (got,) = await receiver.wait_for(1)
    assert got.error is None, got.error
    assert got.payload == {
        "type": "job.completed",
        "timestamp": got.payload["timestamp"],  # type: ignore[index]
        "data": await client.job(job_id),
    }
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["webhook-id"].startswith("msg_")

    async def recorded() -> bool:
        (d,) = await deliveries(client, created["id"])
        return d["status"] == "succeeded"

    await wait_until(recorded, message="the delivery recorded as succeeded")
    (d,) = await deliveries(client, created["id"])
    assert (d["id"], d["attempts"], d["response_status"]) == (
        got.headers["webhook-id"],
        1,
        200,
    )
    assert d["response_body"] == "answered 200"
    async with client.get("/metrics") as response:
        text = await response.text()
    assert 'vts_webhook_deliveries_total{outcome="succeeded"} 1.0' in text
    assert "vts_webhook_delivery_latency_seconds_count 1.0" in text
    assert "vts_webhook_outbox_depth 0.0" in text
    assert "vts_webhook_undispatched_events 0.0" in text
    # Every version of the job was read (pending, processing, progress, completed).
    dispatched = re.search(r"^vts_webhook_dispatched_events_total (\S+)$", text, re.M)
    assert dispatched is not None and float(dispatched[1]) >= 2
    secret = created["secret"].removeprefix("whsec_")
    assert secret not in caplog.text and secret not in text


def count_claims(store: Any) -> list[int]:
    """Calls of the store's claim_deliveries from now on (it still runs)."""
    calls: list[int] = []
    claim = store.claim_deliveries

    async def counted(*args: Any) -> Any:
        calls.append(1)
        return await claim(*args)

    store.claim_deliveries = counted
    return calls


async def test_a_slow_endpoint_does_not_delay_another(
    app_server: ServerFactory,
) -> None:
    """The slow receiver holds its PER_ENDPOINT slots; the fast one gets every
    message meanwhile."""
    gate = asyncio.Event()
    slow, fast = await Receiver(gate=gate).start(), await Receiver().start()
    try:
        client, _ = await hooked(app_server, slow, ["job.completed"])
        body = {"url": fast.url, "events": ["job.completed"]}
        async with client.post("/webhooks", json=body) as response:
            fast.secret = (await response.json())["secret"]
        claims = count_claims(client.server.app[store_key])
        jobs = PER_ENDPOINT + 4
        for _ in range(jobs):
            await client.submit()
        await fast.wait_for(jobs)
        await slow.wait_for(PER_ENDPOINT)
        assert len(slow.received) == PER_ENDPOINT  # the rest wait for a slot
        # ...and the sender waits with them, not polling the store for them.
        before = len(claims)
        with pytest.raises(AssertionError):
            await wait_until(lambda: len(claims) > before + 10, timeout=1.0)
        gate.set()
        await slow.wait_for(jobs)
        assert [r.error for r in [*slow.received, *fast.received]] == [None] * 2 * jobs
    finally:
        gate.set()
        await slow.stop()
        await fast.stop()


async def test_every_status_change_reaches_an_endpoint_asking_for_all(
    app_server: ServerFactory, receiver: Receiver
) -> None:
    client, _ = await hooked(app_server, receiver, ["*"])
    job_id = await client.submit()
    await client.wait_status(job_id, "completed")
    final = (await client.job(job_id))["version"]
    await wait_until(
        lambda: any(
            r.payload and r.payload["data"]["version"] == final  # type: ignore[index]
            for r in receiver.received
        ),
        message="the final version delivered",
    )
    assert all(r.error is None for r in receiver.received)
    payloads: list[Any] = [r.payload for r in receiver.received]
    by_version = {p["data"]["version"]: p for p in payloads}
    assert sorted(by_version) == list(range(1, final + 1))
    assert by_version[1]["type"] == "job.pending"
    assert by_version[2]["type"] == "job.processing"
    assert by_version[final]["type"] == "job.completed"
    assert {p["type"] for v, p in by_version.items() if 2 < v < final} <= {
        "job.progress"
    }


async def test_a_receiver_failing_twice_gets_the_same_message_three_times(
    app_server: ServerFactory,
) -> None:
    receiver = await Receiver(answers=[503, 503]).start()
    try:
        client, created = await hooked(
            app_server,
            receiver,
            ["job.completed"],
            webhook_retry_schedule=FAST_RETRIES,
        )
        await client.submit()
        # Each retry when due, not at the sender's safety timer.
        got = await receiver.wait_for(3, timeout=SAFETY_SECONDS - 1)
        assert {r.headers["webhook-id"] for r in got} != set()
        assert len({r.headers["webhook-id"] for r in got}) == 1
        assert [r.error for r in got] == [None, None, None]
        assert len({r.body for r in got}) == 1

        async def succeeded() -> bool:
            (d,) = await deliveries(client, created["id"])
            return d["status"] == "succeeded"

        await wait_until(succeeded, message="the third attempt recorded")
        (d,) = await deliveries(client, created["id"])
        assert (d["attempts"], d["response_status"]) == (3, 200)
    finally:
        await receiver.stop()


async def test_410_disables_the_endpoint(app_server: ServerFactory) -> None:
    receiver = await Receiver(answers=[410]).start()
    try:
        client, created = await hooked(
            app_server,
            receiver,
            ["job.completed"],
            webhook_retry_schedule=FAST_RETRIES,
        )
        await client.submit()
        await receiver.wait_for(1)

        async def disabled() -> bool:
            async with client.get(f"/webhooks/{created['id']}") as response:
                return (await response.json())["disabled_at"] is not None

        await wait_until(disabled, message="the endpoint disabled")
        async with client.get(f"/webhooks/{created['id']}") as response:
            assert "410" in (await response.json())["disabled_reason"]
        (d,) = await deliveries(client, created["id"])
        assert (d["status"], d["response_status"]) == ("failed", 410)
        async with client.get("/metrics") as response:
            text = await response.text()
        assert "vts_webhook_endpoints_disabled 1.0" in text
        assert 'vts_webhook_deliveries_total{outcome="failed"} 1.0' in text
        # A later job makes no delivery to a disabled endpoint.
        await client.wait_status(await client.submit(), "completed")
        assert len(await deliveries(client, created["id"])) == 1
        assert len(receiver.received) == 1
    finally:
        await receiver.stop()


async def test_retry_after_is_honoured(app_server: ServerFactory) -> None:
    receiver = await Receiver(answers=[503], retry_after="1").start()
    try:
        client, created = await hooked(
            app_server, receiver, ["job.completed"], webhook_retry_schedule=(0.05,)
        )
        await client.submit()
        (first,) = await receiver.wait_for(1)

        async def retry_planned() -> bool:
            found = await deliveries(client, created["id"])
            return bool(found) and found[0]["attempts"] == 1

        await wait_until(retry_planned, message="the failed attempt recorded")
        (planned,) = await deliveries(client, created["id"])
        wait = datetime.fromisoformat(
            planned["next_attempt_at"]
        ) - datetime.fromisoformat(planned["updated_at"])
        assert wait.total_seconds() >= 1.0  # the schedule alone says 0.05 s
        await receiver.wait_for(2)
        assert [r.headers["webhook-id"] for r in receiver.received] == [
            first.headers["webhook-id"]
        ] * 2
    finally:
        await receiver.stop()


async def test_an_answer_later_than_the_timeout_is_a_failed_attempt(
    app_server: ServerFactory,
) -> None:
    never = asyncio.Event()
    receiver = await Receiver(gate=never).start()
    try:
        client, created = await hooked(
            app_server,
            receiver,
            ["job.completed"],
            webhook_timeout=0.2,
            webhook_retry_schedule=(3600.0,),
        )
        await client.submit()

        async def timed_out() -> bool:
            found = await deliveries(client, created["id"])
            return bool(found) and found[0]["attempts"] == 1

        await wait_until(timed_out, message="the attempt timed out")
        (d,) = await deliveries(client, created["id"])
        assert (d["status"], d["response_status"]) == ("pending", None)
        assert d["error"] == "no answer within 0.2s"
    finally:
        never.set()
        await receiver.stop()
