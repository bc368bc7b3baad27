"""Two tenants on one real server: neither sees the other's jobs on any surface."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from _support import wait_until

from vts.errors import PermanentError
from vts.keys import authenticator_key, store_key

ADMIN_KEY = "admin-" + "k" * 40
SEED = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}
ALL = ("jobs:read", "jobs:write", "dlq")


def bearer(token: str, tenant: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if tenant is not None:
        headers["VTS-Tenant"] = tenant
    return headers


async def new_key(client: Any, tenant: str, *scopes: str) -> str:
    body = {"tenant": tenant, "scopes": list(scopes), "expires_in": "90d"}
    async with client.post("/admin/keys", json=body, headers=bearer(ADMIN_KEY)) as r:
        assert r.status == 201, await r.text()
        return str((await r.json())["key"])


async def submit(client: Any, token: str, **headers: str) -> str:
    async with client.post(
        "/translate", json=SEED, headers={**bearer(token), **headers}
    ) as r:
        assert r.status == 202, await r.text()
        return str((await r.json())["job_id"])


async def ids(client: Any, path: str, token: str, **query: str) -> list[str]:
    async with client.get(path, params=query, headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        return [job["job_id"] for job in (await r.json())["jobs"]]


@pytest.fixture
async def two(app_server: Any, gate: Any) -> tuple[Any, str, str]:
    """A server requiring keys, and keys of tenants acme and globex."""
    client = await app_server(processor=gate, auth="keys", admin_key=ADMIN_KEY)
    return (
        client,
        await new_key(client, "acme", *ALL),
        await new_key(client, "globex", *ALL),
    )


async def test_another_tenants_job_is_a_404_like_an_unknown_id(two: Any) -> None:
    client, acme, globex = two
    job_id = await submit(client, acme)
    unknown = "00000000-0000-4000-8000-00000000abcd"
    for method, path in (
        ("GET", "/jobs/{}"),
        ("POST", "/jobs/{}/cancel"),
        ("POST", "/dlq/{}/replay"),
    ):
        async with client.request(
            method, path.format(job_id), headers=bearer(globex)
        ) as theirs:
            hidden = await client.problem(theirs, 404)
        async with client.request(
            method, path.format(unknown), headers=bearer(globex)
        ) as nobody:
            missing = await client.problem(nobody, 404)
        assert hidden["type"] == missing["type"] == "/problems/job-not-found"
        assert hidden["title"] == missing["title"]
        assert hidden["detail"] == missing["detail"].replace(unknown, job_id)
    async with client.get(f"/jobs/{job_id}", headers=bearer(acme)) as mine:
        assert mine.status == 200
        assert (await mine.json())["tenant"] == "acme"


async def test_lists_and_dead_letters_show_only_the_callers_tenant(
    two: Any, gate: Any
) -> None:
    client, acme, globex = two
    a_ids = [await submit(client, acme) for _ in range(3)]
    g_ids = [await submit(client, globex) for _ in range(2)]
    assert await ids(client, "/jobs", acme) == a_ids[::-1]
    assert await ids(client, "/jobs", globex) == g_ids[::-1]
    # A tenant key may name its own tenant, and no other.
    assert await ids(client, "/jobs", acme, tenant="acme") == a_ids[::-1]
    async with client.get("/jobs?tenant=globex", headers=bearer(acme)) as r:
        await client.problem(r, 403)
    # The admin sees both, and filters by tenant.
    assert set(await ids(client, "/jobs", ADMIN_KEY)) == {*a_ids, *g_ids}
    assert await ids(client, "/jobs", ADMIN_KEY, tenant="globex") == g_ids[::-1]
    # Dead letters.
    for job_id in (a_ids[0], g_ids[0]):
        await gate.started(job_id)
        gate.fail(job_id, PermanentError("no speech", code="no-speech"))
    await wait_until(
        lambda: _both_dead(client, a_ids[0], g_ids[0]), message="two dead letters"
    )
    assert await ids(client, "/dlq", acme) == [a_ids[0]]
    assert await ids(client, "/dlq", globex) == [g_ids[0]]
    assert set(await ids(client, "/dlq", ADMIN_KEY)) == {a_ids[0], g_ids[0]}
    assert await ids(client, "/dlq", ADMIN_KEY, tenant="acme") == [a_ids[0]]
    async with client.post(f"/dlq/{a_ids[0]}/replay", headers=bearer(globex)) as r:
        await client.problem(r, 404)
    async with client.post(f"/dlq/{a_ids[0]}/replay", headers=bearer(acme)) as r:
        assert r.status == 202


async def _both_dead(client: Any, *job_ids: str) -> bool:
    return set(await ids(client, "/dlq", ADMIN_KEY)) == set(job_ids)


async def test_idempotency_keys_are_per_tenant(two: Any) -> None:
    client, acme, globex = two
    first = await submit(client, acme, **{"Idempotency-Key": "order-1"})
    again = await submit(client, acme, **{"Idempotency-Key": "order-1"})
    other = await submit(client, globex, **{"Idempotency-Key": "order-1"})
    assert first == again != other


async def test_an_admin_acts_for_a_tenant_with_vts_tenant(two: Any) -> None:
    client, acme, globex = two
    job_id = await submit(client, ADMIN_KEY, **{"VTS-Tenant": "acme"})
    assert await ids(client, "/jobs", acme) == [job_id]
    assert await ids(client, "/jobs", globex) == []
    async with client.get(f"/jobs/{job_id}", headers=bearer(ADMIN_KEY, "globex")) as r:
        await client.problem(r, 404)  # acting for globex: not globex's job
    async with client.post(
        "/translate", json=SEED, headers=bearer(acme, "globex")
    ) as r:
        await client.problem(r, 403)  # only admins impersonate
    async with client.post(
        "/translate", json=SEED, headers=bearer(ADMIN_KEY, "Not A Tenant")
    ) as r:
        body = await client.problem(r, 422)
        assert "VTS-Tenant" in body["errors"]


async def test_job_websocket_of_another_tenant_is_404_before_the_upgrade(
    two: Any,
) -> None:
    client, acme, globex = two
    job_id = await submit(client, acme)
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(f"/ws/job/{job_id}", headers=bearer(globex))
    assert caught.value.status == 404
    with pytest.raises(aiohttp.WSServerHandshakeError) as unauthenticated:
        await client.ws_connect(f"/ws/job/{job_id}")
    assert unauthenticated.value.status == 401
    # The key as a subprotocol (browsers): `vts.bearer` is selected, the key is not.
    async with client.ws_connect(
        f"/ws/job/{job_id}", protocols=("vts.bearer", acme)
    ) as ws:
        assert ws.protocol == "vts.bearer"
        message = await ws.receive_json(timeout=10)
        assert (message["job_id"], message["tenant"]) == (job_id, "acme")


async def test_jobs_websocket_streams_only_the_callers_tenant(
    two: Any, gate: Any
) -> None:
    client, acme, globex = two
    theirs = await submit(client, acme)
    async with (
        client.ws_connect(
            "/ws/jobs", params={"all": "true"}, headers=bearer(globex)
        ) as g_ws,
        client.ws_connect(
            "/ws/jobs", params={"all": "true"}, headers=bearer(acme)
        ) as a_ws,
        client.ws_connect(
            "/ws/jobs", params={"all": "true"}, headers=bearer(ADMIN_KEY)
        ) as admin_ws,
    ):
        await g_ws.send_json({"type": "subscribe", "job_ids": [theirs]})
        refused = await g_ws.receive_json(timeout=10)
        assert (refused["type"], refused["code"]) == ("error", "job-not-found")
        assert refused["job_id"] == theirs
        await gate.started(theirs)
        gate.succeed(theirs)  # acme's job changes while globex watches all
        mine = await submit(client, globex)
        seen: list[dict[str, Any]] = []
        while not any(m.get("job_id") == mine for m in seen):
            seen.append(await g_ws.receive_json(timeout=10))
        assert {m["job_id"] for m in seen if m["type"] == "job"} == {mine}
        assert all(m.get("tenant", "globex") == "globex" for m in seen)
        # acme's watcher saw its job finish and nothing of globex's.
        a_seen: list[dict[str, Any]] = []
        while not any(m.get("status") == "completed" for m in a_seen):
            a_seen.append(await a_ws.receive_json(timeout=10))
        admin_seen: set[str] = set()
        while admin_seen != {theirs, mine}:
            admin_seen.add((await admin_ws.receive_json(timeout=10))["job_id"])
        await a_ws.send_json({"type": "ping"})
        while (message := await a_ws.receive_json(timeout=10))["type"] != "pong":
            assert message["job_id"] == theirs


async def test_a_revoked_key_is_refused_within_5_seconds(app_server: Any) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    token = await new_key(client, "acme", "jobs:read")
    async with client.get("/jobs", headers=bearer(token)) as r:
        assert r.status == 200  # now cached
    key_id = token.split("_")[1]
    # Revoked straight in the store, as another replica (or `vts keys revoke`) does.
    started = time.monotonic()
    await client.app[store_key].revoke_key(key_id, datetime.now(UTC))

    async def refused() -> bool:
        async with client.get("/jobs", headers=bearer(token)) as r:
            return r.status == 401

    await wait_until(refused, timeout=5.0, interval=0.05, message="revocation")
    assert time.monotonic() - started < 5
    async with client.get("/jobs", headers=bearer(token)) as r:
        await client.problem(r, 401)
        assert 'error_description="revoked"' in r.headers["WWW-Authenticate"]
    # Through the admin API: 204, then 404 for an unknown id.
    other = await new_key(client, "acme", "jobs:read")
    other_id = other.split("_")[1]
    async with client.delete(f"/admin/keys/{other_id}", headers=bearer(ADMIN_KEY)) as r:
        assert r.status == 204
    async with client.delete(
        "/admin/keys/0123456789ab", headers=bearer(ADMIN_KEY)
    ) as r:
        await client.problem(r, 404)
    # A whole key where its id belongs: 404, and the detail does not repeat it.
    async with client.delete(f"/admin/keys/{other}", headers=bearer(ADMIN_KEY)) as r:
        problem = await client.problem(r, 404)
        assert other.split("_", 2)[2] not in problem["detail"]


async def test_key_use_is_recorded_in_batches_not_per_request(
    app_server: Any,
) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    token = await new_key(client, "acme", "jobs:read")
    key_id = token.split("_")[1]
    store = client.app[store_key]
    for _ in range(5):
        async with client.get("/jobs", headers=bearer(token)) as r:
            assert r.status == 200
    (key,) = await store.list_keys("acme")
    assert key.last_used_at is None  # no store write per request
    before = datetime.now(UTC)
    await client.app[authenticator_key].flush_use()  # what the minute timer does
    (key,) = await store.list_keys("acme")
    assert key.id == key_id and key.last_used_at is not None
    assert before - timedelta(seconds=60) < key.last_used_at <= datetime.now(UTC)


async def test_a_key_offered_as_a_lone_subprotocol_is_not_logged(
    two: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client, acme, _ = two
    caplog.set_level(logging.DEBUG)
    job_id = await submit(client, acme)
    # The key in the Authorization header and, by mistake, alone as a subprotocol.
    async with client.ws_connect(
        f"/ws/job/{job_id}", headers=bearer(acme), protocols=(acme,)
    ) as ws:
        assert ws.protocol is None
        assert (await ws.receive_json(timeout=10))["job_id"] == job_id
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "overlap server-known ones" in logged  # aiohttp did log the offer...
    assert acme.split("_", 2)[2] not in logged  # ...without the key
    # A plain request cannot use the subprotocol header to authenticate.
    async with client.get(
        "/jobs", headers={"Sec-WebSocket-Protocol": f"vts.bearer, {acme}"}
    ) as r:
        await client.problem(r, 401)


async def counts(client: Any, token: str, **query: str) -> dict[str, int]:
    async with client.get("/jobs/counts", params=query, headers=bearer(token)) as r:
        assert r.status == 200, await r.text()
        body: dict[str, int] = (await r.json())["counts"]
        return body


async def test_job_counts_are_the_tenants_own(two: Any) -> None:
    client, acme, globex = two
    for _ in range(2):
        await submit(client, acme)
    await submit(client, globex)

    async def counted() -> bool:  # the counts may be up to 2 s old
        return sum((await counts(client, acme)).values()) == 2

    await wait_until(counted, message="acme's two jobs counted")
    mine = await counts(client, acme)
    assert set(mine) == {"pending", "processing", "completed", "failed", "cancelled"}
    assert mine["pending"] + mine["processing"] == 2
    assert sum((await counts(client, globex)).values()) == 1
    assert sum((await counts(client, ADMIN_KEY)).values()) == 3
    assert sum((await counts(client, ADMIN_KEY, tenant="globex")).values()) == 1
