"""The OpenAPI parts of the admin API: keys and tenants, and the 401/403/429
answers and tenant parameters they share (openapi_security applies them)."""

from __future__ import annotations

from vts import apikeys
from vts.api.admin import LIFETIME_PATTERN
from vts.api.auth import TENANT_HEADER
from vts.api.openapi_spec import JSON, Schema, nullable, obj, problem, ref

TIME = {"type": "string", "format": "date-time"}
TENANT = {"type": "string", "pattern": apikeys.TENANT_PATTERN}
KEY_ID = {"type": "string", "pattern": apikeys.KEY_ID.pattern}


def _tenant_name(description: str) -> Schema:
    return {**TENANT, "description": description}


def schemas() -> dict[str, Schema]:
    scopes = {
        "type": "array",
        "items": {"enum": list(apikeys.SCOPES)},
        "minItems": 1,
        "uniqueItems": True,
    }
    key = {
        "id": KEY_ID,
        "tenant": _tenant_name("The key's tenant."),
        "scopes": scopes,
        "created_at": TIME,
        "expires_at": nullable(TIME),
    }
    return {
        "CreateKeyRequest": obj(
            {
                "tenant": _tenant_name("Created with the default quotas if new."),
                "scopes": scopes,
                "expires_in": {
                    "type": ["string", "null"],
                    "pattern": LIFETIME_PATTERN,
                    "description": "Lifetime such as 90d or 12h, at most 999d; "
                    "absent or null: never expires.",
                },
            },
            ["tenant", "scopes"],
            closed=True,
        ),
        "NewApiKey": obj(
            {**key, "key": {"type": "string", "description": "Shown only here."}},
            description="The key, with its token: store it, it is not shown again.",
        ),
        "ApiKey": obj(
            {**key, "revoked_at": nullable(TIME), "last_used_at": nullable(TIME)},
            description="A key; never its secret. last_used_at is recorded coarsely.",
        ),
        "KeyList": obj({"keys": {"type": "array", "items": ref("ApiKey")}}),
        "TenantQuotas": obj(
            {
                "max_active_jobs": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": apikeys.MAX_ACTIVE_JOBS_QUOTA,
                },
                "requests_per_second": {
                    "type": "number",
                    "minimum": 0,
                    "maximum": apikeys.MAX_RATE_QUOTA,
                    "description": "0: unlimited.",
                },
            },
            [],
            closed=True,
            description="Absent fields take the defaults (VTS_TENANT_*).",
        ),
        "Tenant": obj(
            {
                "name": _tenant_name("The tenant."),
                "max_active_jobs": {"type": "integer"},
                "requests_per_second": {"type": "number"},
                "created_at": TIME,
            }
        ),
        "TenantList": obj({"tenants": {"type": "array", "items": ref("Tenant")}}),
    }


RATE_LIMIT_FIELDS = {
    "RateLimit-Policy": 'The limit (IETF httpapi draft), e.g. "requests";q=50;w=1.',
    "RateLimit": 'What is left of it and when it resets, e.g. "requests";r=0;t=1.',
}


def responses() -> dict[str, Schema]:
    challenge = {"WWW-Authenticate": {"schema": {"type": "string"}}}
    return {
        "Unauthorized": {
            **problem(
                "No API key, or a bad, expired or revoked one "
                "(/problems/unauthorized). WWW-Authenticate: Bearer, with the RFC "
                "6750 error when a key was sent."
            ),
            "headers": challenge,
        },
        "TooManyRequests": {
            **problem(
                "The tenant exceeds its requests_per_second (/problems/rate-limited) "
                "or, creating a job, has max_active_jobs active "
                "(/problems/quota-exceeded). Nothing was changed.",
                retry_after=True,
            ),
            "headers": {
                "Retry-After": {"$ref": "#/components/headers/RetryAfter"},
                **{
                    name: {"description": text, "schema": {"type": "string"}}
                    for name, text in RATE_LIMIT_FIELDS.items()
                },
            },
        },
        "Forbidden": {
            **problem(
                "The key lacks the operation's scope, or names another tenant "
                "without the admin scope (/problems/forbidden)."
            ),
            "headers": challenge,
        },
    }


def parameters() -> dict[str, Schema]:
    return {
        "TenantFilter": {
            "name": "tenant",
            "in": "query",
            "schema": TENANT,
            "description": "Only this tenant's (admin keys; a tenant key may name "
            "only its own tenant).",
        },
        "ActAsTenant": {
            "name": TENANT_HEADER,
            "in": "header",
            "schema": TENANT,
            "description": "Admin keys: act for this tenant (a job is created in it, "
            "reads see only its jobs).",
        },
    }


def _answer(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _op(operation_id: str, summary: str, answers: dict[str, Schema]) -> Schema:
    return {
        "operationId": operation_id,
        "tags": ["admin"],
        "summary": summary,
        "responses": answers,
    }


def _errors(*names: str) -> dict[str, Schema]:
    by_code = {
        "404": "NotFound",
        "415": "UnsupportedMediaType",
        "422": "ValidationFailed",
        "503": "Unavailable",
    }
    answers = {
        code: {"$ref": f"#/components/responses/{by_code[code]}"} for code in names
    }
    answers["500"] = {"$ref": "#/components/responses/InternalError"}
    return answers


def paths() -> dict[str, Schema]:
    body = "requestBody"
    return {
        "/admin/keys": {
            "post": {
                **_op(
                    "createKey",
                    "Create an API key (its token is shown once)",
                    {
                        "201": _answer("The new key and its token.", ref("NewApiKey")),
                        **_errors("415", "422", "503"),
                    },
                ),
                body: {
                    "required": True,
                    "content": {JSON: {"schema": ref("CreateKeyRequest")}},
                },
            },
            "get": {
                **_op(
                    "listKeys",
                    "API keys, oldest first (never their secrets)",
                    {
                        "200": _answer("The keys.", ref("KeyList")),
                        **_errors("422", "503"),
                    },
                ),
                "parameters": [{"$ref": "#/components/parameters/TenantFilter"}],
            },
        },
        "/admin/keys/{key_id}": {
            "delete": _op(
                "revokeKey",
                "Revoke an API key: refused on every replica within 5 s",
                {"204": {"description": "Revoked."}, **_errors("404", "503")},
            ),
            "parameters": [
                {
                    "name": "key_id",
                    "in": "path",
                    "required": True,
                    "schema": KEY_ID,
                }
            ],
        },
        "/admin/tenants": {
            "get": _op(
                "listTenants",
                "Tenants and their quotas, by name",
                {"200": _answer("The tenants.", ref("TenantList")), **_errors("503")},
            )
        },
        "/admin/tenants/{tenant}": {
            "put": {
                **_op(
                    "putTenant",
                    "Create a tenant or set its quotas",
                    {
                        "200": _answer("The tenant.", ref("Tenant")),
                        **_errors("415", "422", "503"),
                    },
                ),
                body: {
                    "required": True,
                    "content": {JSON: {"schema": ref("TenantQuotas")}},
                },
            },
            "parameters": [
                {
                    "name": "tenant",
                    "in": "path",
                    "required": True,
                    "schema": TENANT,
                }
            ],
        },
    }
