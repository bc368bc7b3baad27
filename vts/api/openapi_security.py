"""The OpenAPI parts of authentication every operation shares: the bearer scheme,
and which operations need it, answer 401/403/429 and take the tenant parameters."""

from __future__ import annotations

from typing import Any

from vts.api.auth import PUBLIC_PATHS
from vts.api.openapi_spec import Schema

SECURITY_DESCRIPTION = """\
An API key, `Authorization: Bearer vts_<id>_<secret>` (or VTS_ADMIN_KEY). On a WebSocket
upgrade a browser may send it as the subprotocol pair `Sec-WebSocket-Protocol:
vts.bearer, <key>` instead; the server selects `vts.bearer`. Scopes: `jobs:read` (get,
list, watch), `jobs:write` (create, cancel), `dlq` (list, replay), `admin` (everything,
every tenant). A server started with VTS_AUTH=none (the default on loopback) asks for
no key: every request acts as an admin of tenant `default`."""


TENANT_PARAMETERS: dict[tuple[str, str], tuple[str, ...]] = {
    ("get", "/jobs"): ("TenantFilter", "ActAsTenant"),
    ("get", "/jobs/counts"): ("TenantFilter", "ActAsTenant"),
    ("get", "/dlq"): ("TenantFilter", "ActAsTenant"),
    ("post", "/translate"): ("ActAsTenant",),
    ("get", "/jobs/{job_id}"): ("ActAsTenant",),
    ("post", "/jobs/{job_id}/cancel"): ("ActAsTenant",),
    ("post", "/dlq/{job_id}/replay"): ("ActAsTenant",),
    ("get", "/ws/job/{job_id}"): ("ActAsTenant",),
    ("get", "/ws/jobs"): ("ActAsTenant",),
}


def secure(all_paths: dict[str, Schema]) -> dict[str, Schema]:
    """Every operation but the public ones needs the bearer key and may answer 401
    and 403; /metrics needs it only when VTS_METRICS_KEY is set."""
    for path, item in all_paths.items():
        for method, operation in item.items():
            if method == "parameters" or path in PUBLIC_PATHS:
                continue
            answers: dict[str, Any] = operation["responses"]
            answers["401"] = {"$ref": "#/components/responses/Unauthorized"}
            if path == "/metrics":
                operation["security"] = [{}, {"bearer": []}]
            else:
                operation["security"] = [{"bearer": []}]
                answers["403"] = {"$ref": "#/components/responses/Forbidden"}
                answers["429"] = {"$ref": "#/components/responses/TooManyRequests"}
            operation["responses"] = dict(sorted(answers.items()))
            extra = TENANT_PARAMETERS.get((method, path), ())
            if extra:
                operation["parameters"] = [
                    *operation.get("parameters", []),
                    *({"$ref": f"#/components/parameters/{n}"} for n in extra),
                ]
    return all_paths


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "vts_<id>_<secret>",
        "description": SECURITY_DESCRIPTION,
    }
}
