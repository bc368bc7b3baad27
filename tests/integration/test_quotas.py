"""Tenants' quotas through HTTP: 429 with Retry-After and the RateLimit fields, a
refused request stores nothing, and other tenants are unaffected."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from _postgres import PostgresServer
from _support import wait_until

from integration.test_auth_tenants import ADMIN_KEY, ALL, SEED, bearer, ids, new_key
from vts.errors import PermanentError


async def put_tenant(client: Any, tenant: str, **quotas: float) -> None:
    async with client.put(
        f"/admin/tenants/{tenant}", json=quotas, headers=bearer(ADMIN_KEY)
    ) as r:
        assert r.status == 200, await r.text()


async def post_job(client: Any, token: str, **headers: str) -> Any:
    async with client.post(
        "/translate", json=SEED, headers={**bearer(token), **headers}
    ) as r:
        await r.read()
        return r


async def metric(client: Any, line_start: str) -> float:
    async with client.get("/metrics") as r:
        text = await r.text()
    found = [ln for ln in text.splitlines() if ln.startswith(line_start)]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.services),
    ]
)
async def server(request: pytest.FixtureRequest, app_server: Any, gate: Any) -> Any:
    """Keys required; jobs never finish unless the test lets them (the gate); on
    each store backend (the quotas count jobs there)."""
    changes: dict[str, Any] = {}
    if request.param == "postgresql":
        postgres: PostgresServer = request.getfixturevalue("postgres_server")
        changes["database_url"] = postgres.create_database(f"q_{uuid.uuid4().hex}")
    return await app_server(processor=gate, auth="keys", admin_key=ADMIN_KEY, **changes)


async def test_the_job_over_the_active_quota_is_refused_and_not_stored(
    server: Any,
) -> None:
    await put_tenant(server, "acme", max_active_jobs=2)
    acme = await new_key(server, "acme", *ALL)
    globex = await new_key(server, "globex", *ALL)
    first = await post_job(server, acme, **{"Idempotency-Key": "order-1"})
    assert first.status == 202
    assert (await post_job(server, acme)).status == 202

    async with server.post("/translate", json=SEED, headers=bearer(acme)) as refused:
        problem = await server.problem(refused, 429)
        headers = refused.headers
    assert problem["type"] == "/problems/quota-exceeded"
    assert "quota is 2" in problem["detail"]
    assert headers["Retry-After"] == "1"
    assert headers["RateLimit-Policy"] == '"active-jobs";q=2'
    assert headers["RateLimit"] == '"active-jobs";r=0;t=1'
    assert len(await ids(server, "/jobs", acme)) == 2  # nothing stored
    # A replay creates nothing, so a full quota lets it through.
    replay = await post_job(server, acme, **{"Idempotency-Key": "order-1"})
    assert (replay.status, replay.headers.get("Idempotent-Replayed")) == (202, "true")
    # Another tenant's quota is its own.
    assert (await post_job(server, globex)).status == 202
    assert (
        await metric(
            server, 'vts_tenant_rejections_total{reason="quota",tenant="acme"}'
        )
        == 1
    )
    assert await metric(server, 'vts_tenant_jobs_created_total{tenant="acme"}') == 2


async def test_a_cancelled_job_frees_its_place_in_the_quota(server: Any) -> None:
    await put_tenant(server, "acme", max_active_jobs=1)
    acme = await new_key(server, "acme", *ALL)
    job_id = await _job_id(server, acme)
    assert (await post_job(server, acme)).status == 429
    async with server.post(f"/jobs/{job_id}/cancel", headers=bearer(acme)) as r:
        assert r.status == 200, await r.text()

    async def admitted() -> bool:  # the count is re-read within a second
        return (await post_job(server, acme)).status == 202

    await wait_until(admitted, interval=0.1, message="a job admitted after the cancel")
    assert (
        await metric(
            server, 'vts_tenant_jobs_finished_total{status="cancelled",tenant="acme"}'
        )
        == 1
    )


async def test_a_replayed_dead_letter_counts_against_the_quota(
    server: Any, gate: Any
) -> None:
    """A replay makes a failed job active again: with the quota full it is a 429
    and nothing changes; a job that cannot be replayed is still a 409 first."""
    await put_tenant(server, "acme", max_active_jobs=1)
    acme = await new_key(server, "acme", *ALL)
    failed = await _job_id(server, acme)
    await gate.started(failed)
    gate.fail(failed, PermanentError("no speech", code="no-speech"))

    async def dead() -> bool:
        async with server.get(f"/jobs/{failed}", headers=bearer(acme)) as r:
            return (await r.json())["status"] == "failed"

    await wait_until(dead, message="the job dead-lettered")
    created: list[str] = []

    async def admitted() -> bool:  # the count is re-read within a second
        async with server.post("/translate", json=SEED, headers=bearer(acme)) as r:
            if r.status == 202:
                created.append((await r.json())["job_id"])
            return r.status == 202

    await wait_until(admitted, interval=0.1, message="a job in the freed place")
    (active,) = created  # the quota's one place
    async with server.post(f"/dlq/{active}/replay", headers=bearer(acme)) as r:
        await server.problem(r, 409)  # not failed: nothing to replay
    async with server.post(f"/dlq/{failed}/replay", headers=bearer(acme)) as r:
        problem = await server.problem(r, 429)
    assert problem["type"] == "/problems/quota-exceeded"
    async with server.get(f"/jobs/{failed}", headers=bearer(acme)) as r:
        assert (await r.json())["status"] == "failed"  # unchanged
    async with server.post(f"/jobs/{active}/cancel", headers=bearer(acme)) as r:
        assert r.status == 200

    async def replayed() -> bool:  # the count is re-read within a second
        async with server.post(f"/dlq/{failed}/replay", headers=bearer(acme)) as r:
            return r.status == 202

    await wait_until(replayed, interval=0.1, message="the replay admitted")


async def test_a_raised_quota_takes_effect_within_seconds(server: Any) -> None:
    await put_tenant(server, "acme", max_active_jobs=1)
    acme = await new_key(server, "acme", *ALL)
    assert (await post_job(server, acme)).status == 202
    assert (await post_job(server, acme)).status == 429
    await put_tenant(server, "acme", max_active_jobs=3)

    async def admitted() -> bool:
        return (await post_job(server, acme)).status == 202

    await wait_until(admitted, timeout=10, interval=0.1, message="the raised quota")
    assert len(await ids(server, "/jobs", acme)) == 2


async def test_the_request_rate_is_a_token_bucket_per_tenant(server: Any) -> None:
    # One request per 100 s: the second is refused however slow this machine is.
    await put_tenant(server, "acme", requests_per_second=0.01)
    acme = await new_key(server, "acme", *ALL)
    globex = await new_key(server, "globex", *ALL)
    async with server.get("/jobs", headers=bearer(acme)) as r:
        assert r.status == 200, await r.text()

    async with server.post("/translate", json=SEED, headers=bearer(acme)) as refused:
        problem = await server.problem(refused, 429)
        headers = refused.headers
    assert problem["type"] == "/problems/rate-limited"
    assert 90 <= int(headers["Retry-After"]) <= 100
    assert headers["RateLimit-Policy"] == '"requests";q=1;w=100'
    assert headers["RateLimit"] == f'"requests";r=0;t={headers["Retry-After"]}'
    for _ in range(5):  # globex keeps its own (unlimited) rate
        assert len(await ids(server, "/jobs", globex)) == 0
    assert len(await ids(server, "/jobs", ADMIN_KEY, tenant="acme")) == 0
    assert (
        await metric(server, 'vts_tenant_rejections_total{reason="rate",tenant="acme"}')
        == 1
    )


async def test_without_auth_the_defaults_apply_to_tenant_default(
    app_server: Any, gate: Any
) -> None:
    server = await app_server(processor=gate, tenant_max_active_jobs=1)
    async with server.post("/translate", json=SEED) as r:
        assert r.status == 202, await r.text()
    async with server.post("/translate", json=SEED) as refused:
        problem = await server.problem(refused, 429)
    assert problem["type"] == "/problems/quota-exceeded"
    for _ in range(20):  # unlimited rate by default: no 429 however fast
        async with server.get("/jobs") as r:
            assert r.status == 200


async def _job_id(client: Any, token: str) -> str:
    async with client.post("/translate", json=SEED, headers=bearer(token)) as r:
        assert r.status == 202, await r.text()
        return str((await r.json())["job_id"])
