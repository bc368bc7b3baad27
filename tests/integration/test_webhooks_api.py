"""The /webhooks API on a real server: bad input refused and nothing changed, tenants
isolated (another tenant's endpoint is a 404), scopes, rotation, paging, retries,
and the SSRF guard at delivery time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from _support import wait_until
from _webhooks import Receiver, endpoint, hooks
from standardwebhooks.webhooks import Webhook

from vts.keys import store_key, webhook_wake_key
from vts.service import utcnow

ADMIN_KEY = "admin-" + "k" * 40
FAST_RETRIES = (0.05, 0.05)
HOOK = {"url": "https://hooks.example.com/in", "events": ["job.completed"]}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def new_key(client: Any, tenant: str, *scopes: str) -> str:
    body = {"tenant": tenant, "scopes": list(scopes)}
    async with client.post("/admin/keys", json=body, headers=bearer(ADMIN_KEY)) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["key"])


async def listed(client: Any, **headers: str) -> list[dict[str, Any]]:
    async with client.get("/webhooks", headers=headers) as r:
        assert r.status == 200, await r.text()
        found: list[dict[str, Any]] = (await r.json())["webhooks"]
        return found


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = await Receiver().start()
    yield made
    await made.stop()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["*"]}, "url"),
        ({**HOOK, "url": "http://hooks.example.com/in"}, "url"),
        ({**HOOK, "url": "https://127.0.0.1/in"}, "url"),
        ({**HOOK, "url": "https://169.254.169.254/latest"}, "url"),
        ({**HOOK, "url": "https://localhost:8443/in"}, "url"),
        ({**HOOK, "url": "https://metadata.internal/in"}, "url"),
        ({**HOOK, "url": "https://user:pw@hooks.example.com/in"}, "url"),
        ({**HOOK, "url": "ftp://hooks.example.com/in"}, "url"),
        ({**HOOK, "url": 5}, "url"),
        ({"url": HOOK["url"]}, "events"),
        ({**HOOK, "events": []}, "events"),
        ({**HOOK, "events": ["job.done"]}, "events"),
        ({**HOOK, "events": ["*", "job.failed"]}, "events"),
        ({**HOOK, "events": "job.failed"}, "events"),
        ({**HOOK, "description": 7}, "description"),
        ({**HOOK, "description": "x" * 501}, "description"),
        ({**HOOK, "description": "nul\u0000"}, "description"),
        ({**HOOK, "secret": "mine"}, "secret"),
    ],
)
async def test_bad_endpoints_are_refused_and_nothing_is_made(
    client: Any, body: dict[str, Any], field: str
) -> None:
    async with client.post("/webhooks", json=body) as response:
        problem = await client.problem(response, 422)
    assert field in problem["errors"], problem
    assert await listed(client) == []


async def test_endpoints_are_made_listed_and_deleted(client: Any) -> None:
    async with client.post("/webhooks", json=HOOK) as response:
        assert response.status == 201
        created = await response.json()
        assert response.headers["Location"] == f"/webhooks/{created['id']}"
    assert created["events"] == ["job.completed"] and created["description"] == ""
    (shown,) = await listed(client)
    assert "secret" not in shown and created["secret"] not in str(shown)
    assert (shown["tenant"], shown["disabled_at"]) == ("default", None)
    async with client.delete(f"/webhooks/{created['id']}") as response:
        assert response.status == 204
    for path in (f"/webhooks/{created['id']}", "/webhooks/nonsense"):
        async with client.get(path) as response:
            await client.problem(response, 404)
    assert await listed(client) == []


async def test_another_tenants_endpoint_is_a_404(app_server: Any) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    acme = await new_key(client, "acme", "jobs:read", "jobs:write")
    globex = await new_key(client, "globex", "jobs:read", "jobs:write")
    async with client.post("/webhooks", json=HOOK, headers=bearer(acme)) as r:
        made = await r.json()
    theirs = f"/webhooks/{made['id']}"
    for method, path in (
        ("GET", theirs),
        ("DELETE", theirs),
        ("POST", f"{theirs}/rotate-secret"),
        ("GET", f"{theirs}/deliveries"),
        ("POST", f"{theirs}/deliveries/msg_{'0' * 24}/retry"),
    ):
        async with client.request(method, path, headers=bearer(globex)) as r:
            problem = await client.problem(r, 404)
            assert problem["type"] == "/problems/webhook-not-found"
    assert await listed(client, **bearer(globex)) == []
    assert [w["id"] for w in await listed(client, **bearer(acme))] == [made["id"]]
    assert len(await listed(client, **bearer(ADMIN_KEY))) == 1


async def test_an_idempotency_key_replays_the_create_secret_included(
    client: Any,
) -> None:
    key = {"Idempotency-Key": "hook-42"}
    async with client.post("/webhooks", json=HOOK, headers=key) as first:
        assert first.status == 201 and "Idempotent-Replayed" not in first.headers
        made = await first.json()
    reordered = dict(reversed(list(HOOK.items())))  # the same request
    async with client.post("/webhooks", json=reordered, headers=key) as again:
        assert again.status == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.headers["Location"] == f"/webhooks/{made['id']}"
        assert await again.json() == made  # the secret too: the first answer's
    other = {**HOOK, "events": ["job.failed"]}
    async with client.post("/webhooks", json=other, headers=key) as response:
        problem = await client.problem(response, 422)
    assert problem["type"] == "/problems/idempotency-key-reused"
    bad = {"Idempotency-Key": "no spaces"}
    async with client.post("/webhooks", json=HOOK, headers=bad) as response:
        assert "Idempotency-Key" in (await client.problem(response, 422))["errors"]
    assert [w["id"] for w in await listed(client)] == [made["id"]]


async def test_idempotency_keys_are_per_tenant(app_server: Any) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    acme = await new_key(client, "acme", "jobs:read", "jobs:write")
    globex = await new_key(client, "globex", "jobs:read", "jobs:write")

    async def create(token: str, **headers: str) -> dict[str, Any]:
        headers = {**bearer(token), "Idempotency-Key": "hook-1", **headers}
        async with client.post("/webhooks", json=HOOK, headers=headers) as r:
            assert r.status == 201, await r.text()
            made: dict[str, Any] = await r.json()
            return made

    mine = await create(acme)
    theirs = await create(globex)  # their own endpoint, never acme's
    assert theirs["id"] != mine["id"] and theirs["secret"] != mine["secret"]
    assert await create(ADMIN_KEY, **{"VTS-Tenant": "acme"}) == mine
    assert [w["id"] for w in await listed(client, **bearer(globex))] == [theirs["id"]]


async def test_reading_needs_jobs_read_and_managing_jobs_write(app_server: Any) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    reader = await new_key(client, "acme", "jobs:read")
    writer = await new_key(client, "acme", "jobs:write")
    async with client.post("/webhooks", json=HOOK, headers=bearer(reader)) as r:
        await client.problem(r, 403)
    async with client.post("/webhooks", json=HOOK, headers=bearer(writer)) as r:
        assert r.status == 201
    assert len(await listed(client, **bearer(reader))) == 1
    async with client.get("/webhooks", headers=bearer(writer)) as r:
        await client.problem(r, 403)


async def test_after_a_rotation_both_secrets_verify_for_24_hours(
    app_server: Any, receiver: Receiver
) -> None:
    client = await app_server(webhook_allow_private=True)
    body = {"url": receiver.url, "events": ["job.completed"]}
    async with client.post("/webhooks", json=body) as r:
        made = await r.json()
    async with client.post(f"/webhooks/{made['id']}/rotate-secret") as r:
        assert r.status == 200, await r.text()
        rotated = await r.json()
    assert rotated["secret"] != made["secret"]
    assert rotated["previous_secret_expires_at"] > made["created_at"]
    receiver.secret = rotated["secret"]
    await client.submit()
    (got,) = await receiver.wait_for(1)
    assert got.error is None
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    Webhook(made["secret"]).verify(got.body, got.headers)


async def test_deliveries_page_filter_and_retry(
    app_server: Any, receiver: Receiver
) -> None:
    receiver.answers = [500] * 6  # three messages, each failing twice
    client = await app_server(
        webhook_allow_private=True, webhook_retry_schedule=FAST_RETRIES[:1]
    )
    body = {"url": receiver.url, "events": ["job.completed"]}
    async with client.post("/webhooks", json=body) as r:
        made = await r.json()
    receiver.secret = made["secret"]
    path = f"/webhooks/{made['id']}/deliveries"
    for _ in range(3):
        await client.submit()

    async def all_failed() -> bool:
        async with client.get(path, params={"status": "failed"}) as r:
            return len((await r.json())["deliveries"]) == 3

    await wait_until(all_failed, message="three deliveries failed")
    async with client.get(path, params={"limit": "2"}) as r:
        first = await r.json()
    async with client.get(path, params={"cursor": first["next_cursor"]}) as r:
        rest = await r.json()
    assert rest["next_cursor"] is None
    pages = [*first["deliveries"], *rest["deliveries"]]
    assert len({d["id"] for d in pages}) == 3
    assert {(d["attempts"], d["response_status"]) for d in pages} == {(2, 500)}
    async with client.get(path, params={"status": "sent"}) as r:
        await client.problem(r, 422)

    retried = pages[0]["id"]
    async with client.post(f"{path}/{retried}/retry") as r:
        assert r.status == 202, await r.text()
        assert (await r.json())["status"] == "pending"

    async def succeeded() -> bool:
        async with client.get(path, params={"status": "succeeded"}) as r:
            return [d["id"] for d in (await r.json())["deliveries"]] == [retried]

    await wait_until(succeeded, message="the retried delivery succeeded")
    assert receiver.received[-1].headers["webhook-id"] == retried
    async with client.post(f"{path}/msg_{'0' * 24}/retry") as r:
        problem = await client.problem(r, 404)
        assert problem["type"] == "/problems/delivery-not-found"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_the_ssrf_guard_refuses_loopback_at_delivery_time(
    app_server: Any, receiver: Receiver, host: str
) -> None:
    """An endpoint stored before the rules (or resolving differently since) is
    checked again, after DNS, at each attempt: the receiver never hears from it."""
    client = await app_server(webhook_retry_schedule=FAST_RETRIES[:1])
    store = hooks(client.server.app[store_key])
    sneaky = endpoint(url=f"https://{host}:{receiver.port}/hook", created_at=utcnow())
    await store.create_endpoint(sneaky)
    client.server.app[webhook_wake_key]()  # as POST /webhooks does
    await client.submit()

    async def refused() -> bool:
        found = await store.list_deliveries(sneaky.id, None, None, 10)
        return bool(found) and all(d.status == "failed" for d in found)

    await wait_until(refused, message="the deliveries refused")
    deliveries = await store.list_deliveries(sneaky.id, None, None, 10)
    for d in deliveries:
        assert d.last_status is None
        assert "loopback" in (d.last_error or "")
    assert receiver.received == []
