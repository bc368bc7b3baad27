"""The OpenAPI paths tagged operations: metrics, liveness, readiness and this
document, with the schemas of the probes' answers."""

from __future__ import annotations

from vts.api.openapi_spec import Schema, json_response, obj, operation, problem, ref


def paths() -> dict[str, Schema]:
    return {
        "/metrics": {
            "get": operation(
                "metrics",
                "operations",
                "Prometheus metrics",
                {
                    "200": {
                        "description": "Prometheus text exposition format.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            )
        },
        "/healthz": {
            "get": operation(
                "healthz",
                "operations",
                "Liveness: the process serves",
                {"200": json_response("Alive.", ref("Health"))},
            )
        },
        "/readyz": {
            "get": operation(
                "readyz",
                "operations",
                "Readiness: the job store answers and can write (a broker outage "
                "only degrades)",
                {
                    "200": json_response("Ready.", ref("Readiness")),
                    "503": problem(
                        "The job store is unreachable (/problems/store-unavailable), "
                        "or answers but cannot write: its disk is full or it is "
                        "read-only (/problems/store-not-writable).",
                        retry_after=True,
                        schema="NotReady",
                    ),
                },
            )
        },
        "/openapi.json": {
            "get": operation(
                "openapi",
                "operations",
                "This document",
                {
                    "200": json_response(
                        "The OpenAPI 3.1 description.", {"type": "object"}
                    )
                },
            )
        },
    }


def schemas() -> dict[str, Schema]:
    checks = obj(
        {"store": {"type": "string"}, "broker": {"type": "string"}},
        description='Each port: "ok" or "unavailable: <reason>".',
    )
    return {
        "Health": obj({"status": {"const": "ok"}}),
        "Readiness": obj({"status": {"const": "ready"}, "checks": checks}),
        "NotReady": {
            "allOf": [ref("Problem"), obj({"checks": checks})],
            "description": "A Problem with each port's check.",
        },
    }
