"""The OpenAPI parts of signed webhooks: endpoints, deliveries, and the message."""

from __future__ import annotations

from vts.api.openapi_spec import JSON, Schema, nullable, obj, ref
from vts.api.urls import MAX_URL_LENGTH, VIDEO_URL_PATTERN
from vts.api.validation import IDEMPOTENCY_KEY_PATTERN
from vts.api.webhook_input import MAX_DESCRIPTION
from vts.api.webhooks import ENDPOINT_ID, MESSAGE_ID
from vts.webhooks.model import ALL_TYPES, EVENT_TYPES

HTTPS_URL_PATTERN = VIDEO_URL_PATTERN.replace("[Ss]?://", "[Ss]://")
TIME = {"type": "string", "format": "date-time"}
EVENTS = {
    "type": "array",
    "minItems": 1,
    "items": {"enum": [*EVENT_TYPES, ALL_TYPES]},
    "description": '["*"] (every type) or event types: job.<status> for each '
    "status change (job.pending on creation and retry), job.progress for "
    "progress-only changes.",
}
URL = {
    "type": "string",
    "format": "uri",
    "pattern": HTTPS_URL_PATTERN,
    "maxLength": MAX_URL_LENGTH,
    "description": "https, on a public address (checked again at each delivery, "
    "after DNS); VTS_WEBHOOK_ALLOW_PRIVATE=true also allows http and private ones.",
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
    "description": "Retrying with the same key and body answers as the first request "
    "did: the same endpoint, its current secret included (Idempotent-Replayed: true); "
    "the same key with another body is a 422. Keys are per tenant and kept as long "
    "as the endpoint.",
}
DESCRIPTION = """\
Every delivery follows Standard Webhooks: headers `webhook-id` (the message id, the same
on every retry), `webhook-timestamp` (unix seconds) and `webhook-signature` (`v1,<base64
HMAC-SHA256 of "{id}.{timestamp}.{body}">`, two space-separated for 24 h after a
rotation); body `{"type", "timestamp", "data"}` with the job snapshot as data. A 2xx
within VTS_WEBHOOK_TIMEOUT is success; anything else is retried on
VTS_WEBHOOK_RETRY_SCHEDULE; 410 disables the endpoint. Order is not guaranteed: drop a
payload whose data.version is older than one already seen."""


def schemas() -> dict[str, Schema]:
    endpoint: dict[str, Schema] = {
        "id": {"type": "string", "pattern": ENDPOINT_ID.pattern},
        "url": URL,
        "events": EVENTS,
        "description": {"type": "string"},
        "created_at": TIME,
    }
    return {
        "CreateWebhookRequest": obj(
            {
                "url": URL,
                "events": EVENTS,
                "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
            },
            ["url", "events"],
            closed=True,
        ),
        "NewWebhook": obj(
            {
                **endpoint,
                "secret": {
                    "type": "string",
                    "pattern": "^whsec_[A-Za-z0-9+/=]+$",
                    "description": "The signing secret; shown only here.",
                },
            },
            description=DESCRIPTION,
        ),
        "Webhook": obj(
            {
                **endpoint,
                "tenant": {"type": "string"},
                "disabled_at": nullable(TIME),
                "disabled_reason": nullable({"type": "string"}),
                "failing_since": nullable(TIME),
            },
            description="An endpoint; never its secret. Disabled on 410 Gone, after "
            "5 days of failures, or when 5 messages in a row used up the schedule.",
        ),
        "WebhookList": obj({"webhooks": {"type": "array", "items": ref("Webhook")}}),
        "RotatedSecret": obj(
            {
                "id": {"type": "string"},
                "secret": {"type": "string", "description": "The new secret."},
                "previous_secret_expires_at": TIME,
            },
            description="The old secret signs too until previous_secret_expires_at.",
        ),
        "WebhookDelivery": obj(
            {
                "id": {"type": "string", "pattern": MESSAGE_ID.pattern},
                "endpoint_id": {"type": "string"},
                "type": {"enum": list(EVENT_TYPES)},
                "job_id": {"type": "string"},
                "status": {"enum": ["pending", "succeeded", "failed"]},
                "attempts": {"type": "integer", "minimum": 0},
                "next_attempt_at": nullable(TIME),
                "response_status": nullable({"type": "integer"}),
                "response_body": nullable(
                    {"type": "string", "description": "The first KiB of the answer."}
                ),
                "error": nullable({"type": "string"}),
                "created_at": TIME,
                "updated_at": TIME,
            }
        ),
        "WebhookDeliveryList": obj(
            {
                "deliveries": {"type": "array", "items": ref("WebhookDelivery")},
                "next_cursor": nullable({"type": "string"}),
            }
        ),
    }


def _answer(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _op(
    operation_id: str, summary: str, answers: dict[str, Schema], *errors: str
) -> Schema:
    by_code = {
        "404": "NotFound",
        "409": "Conflict",
        "415": "UnsupportedMediaType",
        "422": "ValidationFailed",
        "503": "Unavailable",
    }
    all_answers = dict(answers)
    for code in {*errors, "422"}:  # a bad VTS-Tenant header, on every operation
        all_answers[code] = {"$ref": f"#/components/responses/{by_code[code]}"}
    all_answers["500"] = {"$ref": "#/components/responses/InternalError"}
    return {
        "operationId": operation_id,
        "tags": ["webhooks"],
        "summary": summary,
        "responses": all_answers,
        "parameters": [{"$ref": "#/components/parameters/ActAsTenant"}],
    }


def _path_param(name: str, pattern: str) -> Schema:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": f"Anything but {pattern} is a 404.",
    }


def paths() -> dict[str, Schema]:
    endpoint_id = [_path_param("webhook_id", ENDPOINT_ID.pattern)]
    delivery_id = _path_param("delivery_id", MESSAGE_ID.pattern)
    created = _answer("The endpoint and its secret.", ref("NewWebhook"))
    created["headers"] = {
        "Location": {
            "description": "The new endpoint: /webhooks/{webhook_id}.",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        },
        "Idempotent-Replayed": {"$ref": "#/components/headers/IdempotentReplayed"},
    }
    create = _op(
        "createWebhook",
        "Add a webhook endpoint (its secret is shown once)",
        {"201": created},
        "409",  # its Idempotency-Key's endpoint made and deleted meanwhile, again and again
        "415",
        "422",
        "503",
    )
    create["parameters"].append(IDEMPOTENCY_KEY)
    create["requestBody"] = {
        "required": True,
        "content": {JSON: {"schema": ref("CreateWebhookRequest")}},
    }
    listing = _op(
        "listWebhooks",
        "Webhook endpoints, oldest first",
        {"200": _answer("The endpoints.", ref("WebhookList"))},
        "422",
        "503",
    )
    listing["parameters"].append({"$ref": "#/components/parameters/TenantFilter"})
    deliveries = _op(
        "listWebhookDeliveries",
        "An endpoint's deliveries, newest first",
        {"200": _answer("A page of deliveries.", ref("WebhookDeliveryList"))},
        "404",
        "422",
        "503",
    )
    deliveries["parameters"] += [
        {
            "name": "status",
            "in": "query",
            "schema": {"enum": ["pending", "succeeded", "failed"]},
        },
        {"$ref": "#/components/parameters/Limit"},
        {"$ref": "#/components/parameters/Cursor"},
    ]
    return {
        "/webhooks": {"post": create, "get": listing},
        "/webhooks/{webhook_id}": {
            "get": _op(
                "getWebhook",
                "A webhook endpoint",
                {"200": _answer("The endpoint.", ref("Webhook"))},
                "404",
                "503",
            ),
            "delete": _op(
                "deleteWebhook",
                "Delete an endpoint and its deliveries",
                {"204": {"description": "Deleted."}},
                "404",
                "503",
            ),
            "parameters": endpoint_id,
        },
        "/webhooks/{webhook_id}/rotate-secret": {
            "post": _op(
                "rotateWebhookSecret",
                "A new secret; the old one signs too for 24 h",
                {"200": _answer("The new secret.", ref("RotatedSecret"))},
                "404",
                "503",
            ),
            "parameters": endpoint_id,
        },
        "/webhooks/{webhook_id}/deliveries": {
            "get": deliveries,
            "parameters": endpoint_id,
        },
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry": {
            "post": _op(
                "retryWebhookDelivery",
                "Send a delivery again now (and enable its endpoint again)",
                {"202": _answer("The delivery, pending.", ref("WebhookDelivery"))},
                "404",
                "503",
            ),
            "parameters": [*endpoint_id, delivery_id],
        },
    }
