"""Admin REST: API keys and tenants (scope `admin`). A key's secret is shown once."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from vts.api.auth import listing_tenant
from vts.api.validation import parse_json_object, require_json
from vts.apikeys import (
    KEY_ID,
    MAX_ACTIVE_JOBS_QUOTA,
    MAX_RATE_QUOTA,
    TENANT_RULE,
    ApiKey,
    Tenant,
    is_tenant_name,
)
from vts.codec import format_time
from vts.config_values import parse_duration
from vts.errors import KeyNotFoundError, StoreUnavailableError, ValidationError
from vts.keyring import check_key_request, default_tenant, issue_key
from vts.keys import settings_key, store_key
from vts.ports import KeyStore
from vts.service import utcnow

JSON = "application/json"
LIFETIME_PATTERN = "^[1-9][0-9]{0,2}[smhd]$"
LIFETIME = re.compile(LIFETIME_PATTERN)


def _keys(request: web.Request) -> KeyStore:
    store = request.app[store_key]
    if not isinstance(store, KeyStore):
        raise StoreUnavailableError(f"the {type(store).__name__} keeps no API keys")
    return store


def key_to_public(key: ApiKey) -> dict[str, Any]:
    """A key as the admin API shows it: never its secret or the secret's hash."""
    return {
        "id": key.id,
        "tenant": key.tenant,
        "scopes": sorted(key.scopes),
        "created_at": format_time(key.created_at),
        "expires_at": format_time(key.expires_at),
        "revoked_at": format_time(key.revoked_at),
        "last_used_at": format_time(key.last_used_at),
    }


def tenant_to_public(tenant: Tenant) -> dict[str, Any]:
    return {
        "name": tenant.name,
        "max_active_jobs": tenant.max_active_jobs,
        "requests_per_second": tenant.requests_per_second,
        "created_at": format_time(tenant.created_at),
    }


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


async def create_key(request: web.Request) -> web.Response:
    """POST /admin/keys: 201 with the new key's token (the only time it is shown)."""
    require_json(request.headers.get("Content-Type"))
    body = parse_json_object(await request.read())
    problems = {
        f: "unknown field; accepted: expires_in, scopes, tenant"
        for f in sorted(set(body) - {"tenant", "scopes", "expires_in"})
    }
    expires_in = None
    try:
        expires_in = _lifetime(body.get("expires_in"))
    except ValidationError as exc:
        problems.update(exc.errors)
    try:  # every field's problem in one answer
        tenant, scopes = check_key_request(
            body.get("tenant"), body.get("scopes"), expires_in
        )
    except ValidationError as exc:
        problems.update(exc.errors)
    if problems:
        raise ValidationError(errors=problems)
    key, token = await issue_key(
        _keys(request), request.app[settings_key], tenant, scopes, expires_in, utcnow()
    )
    public = key_to_public(key)
    del public["revoked_at"], public["last_used_at"]
    return _json({**public, "key": token}, status=201)


def _lifetime(raw: object) -> float | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not LIFETIME.match(raw):
        raise ValidationError(
            errors={"expires_in": "must be a lifetime from 1s to 999d, such as 90d"}
        )
    return parse_duration(raw)


async def list_keys(request: web.Request) -> web.Response:
    """GET /admin/keys?tenant=: keys, oldest first, never their secrets."""
    keys = await _keys(request).list_keys(listing_tenant(request))
    return _json({"keys": [key_to_public(k) for k in keys]})


async def revoke_key(request: web.Request) -> web.Response:
    """DELETE /admin/keys/{key_id}: 204; every replica refuses the key within 5 s."""
    key_id = request.match_info["key_id"]
    if not KEY_ID.match(key_id):
        raise KeyNotFoundError(None)  # perhaps a whole key: never echoed
    if await _keys(request).revoke_key(key_id, utcnow()) is None:
        raise KeyNotFoundError(key_id)
    return web.Response(status=204)


async def put_tenant(request: web.Request) -> web.Response:
    """PUT /admin/tenants/{tenant}: create the tenant or set its quotas; 200."""
    name = request.match_info["tenant"]
    if not is_tenant_name(name):
        raise ValidationError(errors={"tenant": TENANT_RULE})
    require_json(request.headers.get("Content-Type"))
    body = parse_json_object(await request.read())
    defaults = default_tenant(name, request.app[settings_key], utcnow())
    problems: dict[str, str] = {}
    for field in sorted(set(body) - {"max_active_jobs", "requests_per_second"}):
        problems[field] = (
            "unknown field; accepted: max_active_jobs, requests_per_second"
        )
    active = body.get("max_active_jobs", defaults.max_active_jobs)
    if not _number(active, integer=True) or not 1 <= active <= MAX_ACTIVE_JOBS_QUOTA:
        problems["max_active_jobs"] = f"must be an integer 1-{MAX_ACTIVE_JOBS_QUOTA}"
    rate = body.get("requests_per_second", defaults.requests_per_second)
    if not _number(rate, integer=False) or not 0 <= rate <= MAX_RATE_QUOTA:
        problems["requests_per_second"] = (
            f"must be a number 0-{MAX_RATE_QUOTA} (0: unlimited)"
        )
    if problems:
        raise ValidationError(errors=problems)
    tenant = Tenant(name, int(active), float(rate), defaults.created_at)
    stored = await _keys(request).put_tenant(tenant)
    return _json(tenant_to_public(stored))


def _number(value: object, *, integer: bool) -> bool:
    """A JSON number (an integer, as JSON Schema counts them: 5.0 is one)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return not integer or float(value).is_integer()


async def list_tenants(request: web.Request) -> web.Response:
    """GET /admin/tenants: every tenant and its quotas, by name."""
    tenants = await _keys(request).list_tenants()
    return _json({"tenants": [tenant_to_public(t) for t in tenants]})
