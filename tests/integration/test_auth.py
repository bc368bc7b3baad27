"""Authentication and authorization on a real server: 401, 403, the public routes."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vts.api.auth import PUBLIC_PATHS

ADMIN_KEY = "admin-" + "k" * 40
METRICS_KEY = "metrics-" + "m" * 20
JOB_ID = "00000000-0000-4000-8000-000000000001"
SEED = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}
ServerFactory = Any
VtsClient = Any
PATH_VALUES = {
    "job_id": JOB_ID,
    "key_id": "0123456789ab",
    "tenant": "acme",
    "version": "0",
    "name": "dashboard.js",
    "webhook_id": "ep_" + "0" * 24,
    "delivery_id": "msg_" + "0" * 24,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def keyed(app_server: ServerFactory, **changes: Any) -> VtsClient:
    """A server requiring keys, with VTS_ADMIN_KEY."""
    return await app_server(auth="keys", admin_key=ADMIN_KEY, **changes)


async def new_key(client: VtsClient, tenant: str, *scopes: str) -> str:
    body = {"tenant": tenant, "scopes": list(scopes)}
    async with client.post("/admin/keys", json=body, headers=bearer(ADMIN_KEY)) as r:
        assert r.status == 201, await r.text()
        data = await r.json()
    assert data["tenant"] == tenant and data["scopes"] == sorted(scopes)
    return str(data["key"])


def concrete(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m[1]], path)


async def test_every_route_but_the_public_ones_answers_401_without_a_key(
    app_server: ServerFactory,
) -> None:
    client = await keyed(app_server, metrics_key=METRICS_KEY)
    routes = {
        (route.method, route.resource.canonical)
        for route in client.app.router.routes()
        if route.resource is not None
    }
    assert len(routes) > 15  # the walk sees the whole table
    for method, path in sorted(routes):
        for headers in ({}, bearer("vts_0123456789ab_wrong"), bearer("junk")):
            async with client.request(method, concrete(path), headers=headers) as r:
                if path in PUBLIC_PATHS:
                    assert r.status != 401, (method, path)
                    continue
                if method == "HEAD":
                    assert r.status == 401, (method, path)
                    continue
                body = await client.problem(r, 401)
                assert body["type"] == "/problems/unauthorized"
                challenge = r.headers["WWW-Authenticate"]
                assert challenge.startswith('Bearer realm="vts"'), challenge
                if headers:
                    assert 'error="invalid_token"' in challenge
                else:
                    assert "error=" not in challenge  # RFC 6750 3.1


async def test_public_routes_need_no_key(app_server: ServerFactory) -> None:
    client = await keyed(app_server)
    for path in ("/healthz", "/readyz", "/openapi.json", "/metrics"):
        async with client.get(path) as response:
            assert response.status == 200, path


async def test_metrics_key_guards_metrics_and_failures_are_counted(
    app_server: ServerFactory,
) -> None:
    client = await keyed(app_server, metrics_key=METRICS_KEY)
    async with client.get("/metrics") as response:
        await client.problem(response, 401)
    async with client.get("/metrics", headers=bearer("x" * 30)) as response:
        await client.problem(response, 401)
    async with client.get("/jobs", headers=bearer("vts_0123456789ab_nope")) as r:
        await client.problem(r, 401)
    reader = await new_key(client, "acme", "jobs:read")
    async with client.post("/translate", json=SEED, headers=bearer(reader)) as r:
        await client.problem(r, 403)
    async with client.get("/metrics", headers=bearer(METRICS_KEY)) as response:
        assert response.status == 200
        text = await response.text()
    counts = dict(
        re.findall(r'^vts_auth_failures_total\{reason="(\w+)"\} (\S+)$', text, re.M)
    )
    assert float(counts["missing"]) >= 1
    assert float(counts["invalid"]) >= 2
    assert float(counts["forbidden"]) == 1
    assert METRICS_KEY not in text and ADMIN_KEY not in text and reader not in text


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (("jobs:read",), {"get", "list", "watch"}),
        (("jobs:write",), {"create", "cancel"}),
        (("dlq",), {"dlq", "replay"}),
        (
            ("jobs:read", "jobs:write", "dlq"),
            {"get", "list", "watch", "create"} | {"cancel", "dlq", "replay"},
        ),
        (
            ("admin",),
            {"get", "list", "watch", "create", "cancel", "dlq", "replay"} | {"admin"},
        ),
    ],
)
async def test_each_scope_opens_its_operations_and_no_others(
    app_server: ServerFactory, scopes: tuple[str, ...], allowed: set[str]
) -> None:
    client = await keyed(app_server)
    key = bearer(await new_key(client, "acme", *scopes))
    job_id = await _submit(client, ADMIN_KEY, "acme")
    calls = {
        "get": ("GET", f"/jobs/{job_id}", None),
        "list": ("GET", "/jobs", None),
        "watch": ("GET", f"/ws/job/{job_id}", None),
        "create": ("POST", "/translate", SEED),
        "cancel": ("POST", f"/jobs/{JOB_ID}/cancel", None),
        "dlq": ("GET", "/dlq", None),
        "replay": ("POST", f"/dlq/{JOB_ID}/replay", None),
        "admin": ("GET", "/admin/tenants", None),
    }
    for name, (method, path, body) in calls.items():
        async with client.request(method, path, json=body, headers=key) as r:
            if name in allowed:
                # Past auth: the operation's own answer (426: a plain GET on a
                # WebSocket; 404: the made-up job id).
                assert r.status in (200, 202, 404, 426), (name, await r.text())
            else:
                problem = await client.problem(r, 403)
                assert problem["type"] == "/problems/forbidden"
                assert 'error="insufficient_scope"' in r.headers["WWW-Authenticate"]


async def _submit(client: VtsClient, token: str, tenant: str | None = None) -> str:
    headers = bearer(token)
    if tenant is not None:
        headers["VTS-Tenant"] = tenant
    async with client.post("/translate", json=SEED, headers=headers) as r:
        assert r.status == 202, await r.text()
        return str((await r.json())["job_id"])


async def test_bad_keys_are_401_with_the_reason(app_server: ServerFactory) -> None:
    client = await keyed(app_server)
    token = await new_key(client, "acme", "jobs:read")
    key_id = token.split("_")[1]
    cases = {
        "Bearer": "missing",
        "Basic dXNlcjpwYXNz": "missing",
        "Bearer vts_0123456789ab_" + "x" * 43: "invalid",
        f"Bearer vts_{key_id}_" + "x" * 43: "invalid",  # right id, wrong secret
        f"Bearer {token}x": "invalid",
        "Bearer " + ADMIN_KEY[:-1]: "invalid",
    }
    for header, reason in cases.items():
        async with client.get("/jobs", headers={"Authorization": header}) as r:
            await client.problem(r, 401)
            challenge = r.headers["WWW-Authenticate"]
            if reason == "missing":
                assert challenge == 'Bearer realm="vts"', header
            else:
                assert 'error="invalid_token"' in challenge, header
    async with client.get("/jobs", headers=bearer(token)) as r:
        assert r.status == 200


async def test_none_mode_keeps_the_seed_examples_working(client: VtsClient) -> None:
    job_id = await client.submit()
    job = await client.job(job_id)
    assert job["tenant"] == "default"
    async with client.get("/admin/tenants") as response:
        assert response.status == 200  # an admin of tenant default


async def test_expired_and_revoked_keys_are_401_and_counted(
    app_server: ServerFactory,
) -> None:
    from datetime import UTC, datetime, timedelta

    from vts.apikeys import Tenant
    from vts.apikeys import new_key as make_key
    from vts.keys import store_key

    client = await keyed(app_server)
    store = client.app[store_key]
    now = datetime.now(UTC)
    expired, expired_token = make_key("acme", ["jobs:read"], now, now - timedelta(1))
    await store.create_key(expired, Tenant("acme", 10, 0, now))
    revoked, revoked_token = make_key("acme", ["jobs:read"], now)
    await store.create_key(revoked, Tenant("acme", 10, 0, now))
    await store.revoke_key(revoked.id, now)
    for token, reason in ((expired_token, "expired"), (revoked_token, "revoked")):
        async with client.get("/jobs", headers=bearer(token)) as r:
            body = await client.problem(r, 401)
            assert body["detail"] == f"the API key is {reason}"
            assert f'error_description="{reason}"' in r.headers["WWW-Authenticate"]
    async with client.get("/metrics") as r:
        text = await r.text()
    for reason in ("expired", "revoked"):
        assert f'vts_auth_failures_total{{reason="{reason}"}} 1.0' in text


async def test_admin_api_manages_keys_and_tenants(app_server: ServerFactory) -> None:
    client = await keyed(app_server)
    admin = bearer(ADMIN_KEY)
    body = {"tenant": "acme", "scopes": ["jobs:read"], "expires_in": "90d"}
    async with client.post("/admin/keys", json=body, headers=admin) as r:
        assert r.status == 201
        created = await r.json()
    assert set(created) == {"id", "key", "tenant", "scopes", "created_at", "expires_at"}
    async with client.get("/admin/keys", params={"tenant": "acme"}, headers=admin) as r:
        (listed,) = (await r.json())["keys"]
    assert listed["id"] == created["id"] and "key" not in listed
    assert created["key"].split("_", 2)[2] not in str(listed)
    assert listed["revoked_at"] is None and listed["last_used_at"] is None
    async with client.get("/admin/tenants", headers=admin) as r:
        (tenant,) = (await r.json())["tenants"]
    assert (tenant["name"], tenant["max_active_jobs"]) == ("acme", 10000)
    assert tenant["requests_per_second"] == 0
    quotas = {"max_active_jobs": 1000, "requests_per_second": 50}
    async with client.put("/admin/tenants/acme", json=quotas, headers=admin) as r:
        assert r.status == 200
        assert {**(await r.json()), "created_at": None} == {
            "name": "acme",
            **quotas,
            "created_at": None,
        }
    bad = {
        ("POST", "/admin/keys"): {"tenant": "ACME", "scopes": [], "expires_in": "0d"},
        ("PUT", "/admin/tenants/acme"): {"max_active_jobs": 0, "extra": 1},
    }
    for (method, path), payload in bad.items():
        async with client.request(method, path, json=payload, headers=admin) as r:
            problem = await client.problem(r, 422)
            assert len(problem["errors"]) >= 2, problem
    async with client.put("/admin/tenants/Bad_Name", json={}, headers=admin) as r:
        await client.problem(r, 422)
    async with client.get("/admin/tenants", headers=admin) as r:
        assert [t["name"] for t in (await r.json())["tenants"]] == ["acme"]


@pytest.mark.parametrize(
    ("expires_in", "status"),
    [("999d", 201), ("24h", 201), ("1000d", 422), ("0s", 422)],
)
async def test_key_lifetimes_are_bounded_as_the_cli_bounds_them(
    app_server: ServerFactory, expires_in: str, status: int
) -> None:
    """`POST /admin/keys` takes what `vts keys create --expires` takes: 1s to 999d."""
    client = await keyed(app_server)
    body = {"tenant": "acme", "scopes": ["jobs:read"], "expires_in": expires_in}
    async with client.post("/admin/keys", json=body, headers=bearer(ADMIN_KEY)) as r:
        if status == 201:
            assert r.status == 201, await r.text()
        else:
            problem = await client.problem(r, 422)
            assert set(problem["errors"]) == {"expires_in"}
            assert "999d" in problem["errors"]["expires_in"]
