"""The building blocks every part of the OpenAPI document is written with: schema,
response and operation helpers."""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"
EXAMPLE_ID = "550e8400-e29b-41d4-a716-446655440000"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(
    properties: dict[str, Schema],
    required: list[str] | None = None,
    *,
    closed: bool = False,
    **extra: Any,
) -> Schema:
    """An object schema; every property is required unless `required` says otherwise."""
    schema: Schema = {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
        **extra,
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def problem(
    description: str, *, retry_after: bool = False, schema: str = "Problem"
) -> Schema:
    """An error response: always application/problem+json."""
    response: Schema = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": ref(schema)}},
    }
    if retry_after:
        response["headers"] = {
            "Retry-After": {"$ref": "#/components/headers/RetryAfter"}
        }
    return response


def json_response(description: str, schema: Schema, **extra: Any) -> Schema:
    return {"description": description, "content": {JSON: {"schema": schema}}, **extra}


def param_ref(name: str) -> Schema:
    return {"$ref": f"#/components/parameters/{name}"}


def response_ref(name: str) -> Schema:
    return {"$ref": f"#/components/responses/{name}"}


def header_ref(name: str) -> Schema:
    return {"$ref": f"#/components/headers/{name}"}


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    responses: dict[str, Schema],
    *,
    errors: tuple[str, ...] = (),
    **extra: Any,
) -> Schema:
    """An operation; `errors` names shared problem responses (openapi_problems), and
    every one may fail 500."""
    shared = {
        "400": "BadRequest",
        "404": "NotFound",
        "408": "RequestTimeout",
        "409": "Conflict",
        "413": "PayloadTooLarge",
        "415": "UnsupportedMediaType",
        "422": "ValidationFailed",
        "426": "UpgradeRequired",
        "503": "Unavailable",
    }
    all_responses = dict(responses)
    for code in errors:
        all_responses[code] = response_ref(shared[code])
    all_responses["500"] = response_ref("InternalError")
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "responses": dict(sorted(all_responses.items())),
        **extra,
    }


def links(*operation_ids: str) -> Schema:
    """What a client can do next with the job id in this response's body."""
    return {
        operation_id[0].upper() + operation_id[1:]: {
            "operationId": operation_id,
            "parameters": {"job_id": "$response.body#/job_id"},
        }
        for operation_id in operation_ids
    }
