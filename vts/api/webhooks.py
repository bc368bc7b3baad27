"""REST for webhook endpoints and their deliveries (issue 12). Tenant-scoped: another
tenant's endpoint is a 404. Scopes: jobs:write to manage, jobs:read to read."""

from __future__ import annotations

import re

import orjson
from aiohttp import web

from vts.api.auth import acting_tenant, creating_tenant, listing_tenant
from vts.api.validation import (
    idempotency_claim,
    parse_json_object,
    parse_limit,
    query_value,
    require_json,
)
from vts.api.webhook_input import (
    check_endpoint_request,
    created_to_public,
    delivery_to_public,
    endpoint_to_public,
    parse_delivery_status,
)
from vts.codec import format_time
from vts.errors import (
    DeliveryNotFoundError,
    StoreUnavailableError,
    WebhookNotFoundError,
)
from vts.keys import settings_key, store_key, webhook_wake_key
from vts.service import utcnow
from vts.stores.cursors import decode_cursor, encode_cursor
from vts.webhooks.model import (
    PREVIOUS_SECRET_LIFETIME,
    Endpoint,
    new_endpoint_id,
    new_secret,
)
from vts.webhooks.port import WebhookStore

JSON = "application/json"
ENDPOINT_ID = re.compile(r"^ep_[0-9a-f]{24}$")
MESSAGE_ID = re.compile(r"^msg_[0-9a-f]{24}$")


def _hooks(request: web.Request) -> WebhookStore:
    store = request.app[store_key]
    if not isinstance(store, WebhookStore):
        raise StoreUnavailableError(f"the {type(store).__name__} keeps no webhooks")
    return store


def _json(data: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type=JSON)


async def _endpoint(request: web.Request) -> Endpoint:
    """The endpoint the path names, of the caller's tenant; a 404 otherwise."""
    endpoint_id = request.match_info["webhook_id"]
    tenant = acting_tenant(request)
    if ENDPOINT_ID.match(endpoint_id):
        found = await _hooks(request).get_endpoint(endpoint_id, tenant=tenant)
        if found is not None:
            return found
    raise WebhookNotFoundError(f"no webhook endpoint with id {endpoint_id[:64]}")


async def create_webhook(request: web.Request) -> web.Response:
    """POST /webhooks: 201 with the signing secret. An Idempotency-Key makes
    retries safe: a replay answers as the first request did, secret included (the
    current one), so a client whose first answer was lost still learns it."""
    require_json(request.headers.get("Content-Type"))
    body = parse_json_object(await request.read())
    allow_private = request.app[settings_key].webhook_allow_private
    url, events, description = check_endpoint_request(body, allow_private)
    claim = idempotency_claim(request.headers.get("Idempotency-Key"), body)
    endpoint = Endpoint(
        id=new_endpoint_id(),
        tenant=creating_tenant(request),
        url=url,
        events=events,
        description=description,
        secret=new_secret(),
        created_at=utcnow(),
    )
    stored, created = await _hooks(request).create_endpoint(endpoint, claim)
    response = _json(created_to_public(stored), status=201)
    response.headers["Location"] = f"/webhooks/{stored.id}"
    if created:
        _wake(request)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    return response


async def list_webhooks(request: web.Request) -> web.Response:
    """GET /webhooks: the tenant's endpoints, oldest first, never their secrets."""
    found = await _hooks(request).list_endpoints(tenant=listing_tenant(request))
    return _json({"webhooks": [endpoint_to_public(e) for e in found]})


async def get_webhook(request: web.Request) -> web.Response:
    """GET /webhooks/{webhook_id}: the endpoint, with why it was disabled if it is."""
    return _json(endpoint_to_public(await _endpoint(request)))


async def delete_webhook(request: web.Request) -> web.Response:
    """DELETE /webhooks/{webhook_id}: 204; its pending deliveries are dropped."""
    endpoint = await _endpoint(request)
    await _hooks(request).delete_endpoint(endpoint.id, tenant=endpoint.tenant)
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    """POST /webhooks/{webhook_id}/rotate-secret: a new secret; the old one keeps
    signing (both signatures sent) for 24 hours."""
    endpoint = await _endpoint(request)
    expires = utcnow() + PREVIOUS_SECRET_LIFETIME
    rotated = await _hooks(request).rotate_secret(
        endpoint.id, new_secret(), expires, tenant=endpoint.tenant
    )
    if rotated is None:  # deleted meanwhile
        raise WebhookNotFoundError(f"no webhook endpoint with id {endpoint.id}")
    return _json(
        {
            "id": rotated.id,
            "secret": rotated.secret,
            "previous_secret_expires_at": format_time(expires),
        }
    )


async def list_deliveries(request: web.Request) -> web.Response:
    """GET /webhooks/{webhook_id}/deliveries?status=&cursor=&limit=: newest first."""
    query = request.query
    status = parse_delivery_status(query_value(query, "status"))
    limit = parse_limit(query_value(query, "limit"))
    raw_cursor = query_value(query, "cursor")
    before = None if raw_cursor is None else decode_cursor(raw_cursor)
    endpoint = await _endpoint(request)
    found = await _hooks(request).list_deliveries(
        endpoint.id, status, before, limit + 1
    )
    page = found[:limit]
    next_cursor = encode_cursor(page[-1].event_seq) if len(found) > limit else None
    return _json(
        {
            "deliveries": [delivery_to_public(d) for d in page],
            "next_cursor": next_cursor,
        }
    )


async def retry_delivery(request: web.Request) -> web.Response:
    """POST /webhooks/{webhook_id}/deliveries/{delivery_id}/retry: 202; the delivery
    is sent again now, with a fresh retry schedule, and a disabled endpoint is
    enabled again (the owner says the receiver is back)."""
    endpoint = await _endpoint(request)
    delivery_id = request.match_info["delivery_id"]
    retried = None
    if MESSAGE_ID.match(delivery_id):
        retried = await _hooks(request).retry_delivery(
            endpoint.id, delivery_id, utcnow()
        )
    if retried is None:
        raise DeliveryNotFoundError(
            f"webhook endpoint {endpoint.id} has no delivery {delivery_id[:64]}"
        )
    _wake(request)
    return _json(delivery_to_public(retried), status=202)


def _wake(request: web.Request) -> None:
    wake = request.app.get(webhook_wake_key)
    if wake is not None:
        wake()
