"""Authentication and authorization: every route needs a key and a scope unless public.

The scope of each route is in ROUTE_SCOPES; a route missing there needs `admin`, so a
route added later is closed until someone opens it on purpose.
"""

from __future__ import annotations

import hmac

from aiohttp import hdrs, web

from vts.api.problems import Handler
from vts.api.ui import UI_PATHS
from vts.api.validation import query_value
from vts.apikeys import (
    ADMIN,
    ANONYMOUS_ADMIN,
    TENANT_RULE,
    Principal,
    is_tenant_name,
)
from vts.errors import AuthenticationError, PermissionDeniedError, ValidationError
from vts.keys import (
    auth_off_key,
    authenticator_key,
    metrics_key,
    quotas_key,
    settings_key,
)

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", *UI_PATHS})
"""Answer without a key; /metrics too unless VTS_METRICS_KEY is set. The dashboard
and /docs are pages without data (their data calls need the key), like the spec."""
METRICS_PATH = "/metrics"
ROUTE_SCOPES: dict[tuple[str, str], str] = {
    ("POST", "/translate"): "jobs:write",
    ("GET", "/jobs"): "jobs:read",
    ("GET", "/jobs/counts"): "jobs:read",
    ("GET", "/jobs/{job_id}"): "jobs:read",
    ("POST", "/jobs/{job_id}/cancel"): "jobs:write",
    ("GET", "/dlq"): "dlq",
    ("POST", "/dlq/{job_id}/replay"): "dlq",
    ("GET", "/ws/job/{job_id}"): "jobs:read",
    ("GET", "/ws/jobs"): "jobs:read",
    ("GET", "/events"): "jobs:read",
    ("POST", "/webhooks"): "jobs:write",
    ("GET", "/webhooks"): "jobs:read",
    ("GET", "/webhooks/{webhook_id}"): "jobs:read",
    ("DELETE", "/webhooks/{webhook_id}"): "jobs:write",
    ("POST", "/webhooks/{webhook_id}/rotate-secret"): "jobs:write",
    ("GET", "/webhooks/{webhook_id}/deliveries"): "jobs:read",
    ("POST", "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"): "jobs:write",
}
WS_BEARER_PROTOCOL = "vts.bearer"
TENANT_HEADER = "VTS-Tenant"

principal_key = web.RequestKey("principal", Principal)


def bearer_token(request: web.Request) -> str | None:
    """The key from `Authorization: Bearer`, or on a WebSocket upgrade from the
    subprotocol pair `vts.bearer, <key>` (browsers cannot set headers there)."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        return token.strip() if scheme.lower() == "bearer" else None
    offered = request.headers.get(hdrs.SEC_WEBSOCKET_PROTOCOL)
    if offered is not None and request.headers.get(hdrs.UPGRADE, "").lower() == (
        "websocket"
    ):
        protocols = [p.strip() for p in offered.split(",")]
        if WS_BEARER_PROTOCOL in protocols:
            at = protocols.index(WS_BEARER_PROTOCOL) + 1
            return protocols[at] if at < len(protocols) else None
    return None


def required_scope(request: web.Request) -> str | None:
    """The scope a request needs; None for a public one (or an unknown path, which
    aiohttp answers 404/405 itself)."""
    resource = request.match_info.route.resource
    if resource is None or request.match_info.http_exception is not None:
        return None
    path = resource.canonical
    if path in PUBLIC_PATHS:
        return None
    method = "GET" if request.method == "HEAD" else request.method
    return ROUTE_SCOPES.get((method, path), ADMIN)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate (VTS_AUTH=keys) and check the route's scope."""
    scope = required_scope(request)
    if scope is None:
        return await handler(request)
    if request.match_info.route.resource.canonical == METRICS_PATH:  # type: ignore[union-attr]
        _check_metrics_key(request, request.app[settings_key].metrics_key)
        return await handler(request)
    if request.app[auth_off_key]:
        principal = ANONYMOUS_ADMIN
    else:
        principal = await request.app[authenticator_key].authenticate(
            bearer_token(request)
        )
    if not principal.allows(scope):
        request.app[metrics_key].auth_failures.labels("forbidden").inc()
        raise PermissionDeniedError(f"this API key lacks the {scope} scope", scope)
    request[principal_key] = principal
    # The key's own tenant's request rate (an admin's: `default`'s); RateLimitedError.
    quotas = request.app[quotas_key]
    quotas.take_request(principal.tenant, await quotas.limits(principal.tenant))
    return await handler(request)


def _check_metrics_key(request: web.Request, expected: str | None) -> None:
    if expected is None:
        return
    token = bearer_token(request)
    if token is None:
        reason = "missing"
    elif hmac.compare_digest(token.encode(), expected.encode()):
        return
    else:
        reason = "invalid"
    request.app[metrics_key].auth_failures.labels(reason).inc()
    raise AuthenticationError(
        "/metrics needs VTS_METRICS_KEY as a bearer token", reason
    )


def principal_of(request: web.Request) -> Principal:
    return request[principal_key]


def _named_tenant(raw: str | None, source: str) -> str | None:
    if raw is None:
        return None
    if not is_tenant_name(raw):
        raise ValidationError(errors={source: TENANT_RULE})
    return raw


def _impersonated(request: web.Request, principal: Principal) -> str | None:
    """The tenant named by VTS-Tenant: admins only (as Kubernetes impersonation)."""
    named = _named_tenant(request.headers.get(TENANT_HEADER), TENANT_HEADER)
    if named is not None and not principal.is_admin and named != principal.tenant:
        request.app[metrics_key].auth_failures.labels("forbidden").inc()
        raise PermissionDeniedError(
            f"only an admin key may act for another tenant ({TENANT_HEADER})", ADMIN
        )
    return named


def acting_tenant(request: web.Request) -> str | None:
    """The tenant whose jobs the request reads or changes: its key's; for an admin,
    the one VTS-Tenant names, or None (every tenant)."""
    principal = principal_of(request)
    named = _impersonated(request, principal)
    return named if principal.is_admin else principal.tenant


def creating_tenant(request: web.Request) -> str:
    """The tenant a new job belongs to: the key's, or for an admin VTS-Tenant's."""
    principal = principal_of(request)
    return _impersonated(request, principal) or principal.tenant


def listing_tenant(request: web.Request) -> str | None:
    """The tenant a list shows: the key's; an admin may pick one with `?tenant=`."""
    principal = principal_of(request)
    acting = acting_tenant(request)  # checks VTS-Tenant, whether used or not
    named = _named_tenant(query_value(request.query, "tenant"), "tenant")
    if named is not None and not principal.is_admin and named != principal.tenant:
        request.app[metrics_key].auth_failures.labels("forbidden").inc()
        raise PermissionDeniedError(
            "only an admin key may list another tenant's jobs", ADMIN
        )
    return named or acting
