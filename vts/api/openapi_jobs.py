"""The OpenAPI paths of jobs and dead letters, with the parameters and headers
they share."""

from __future__ import annotations

from vts.api.jobs import RETRY_AFTER_SECONDS
from vts.api.openapi_spec import (
    JSON,
    Schema,
    header_ref,
    json_response,
    links,
    operation,
    param_ref,
    ref,
)
from vts.api.validation import DEFAULT_PAGE, IDEMPOTENCY_KEY_PATTERN, MAX_PAGE


def _job_response(description: str, *next_steps: str) -> Schema:
    return json_response(
        description,
        ref("Job"),
        headers={"Retry-After": header_ref("RetryAfter")},
        links=links(*next_steps),
    )


def paths() -> dict[str, Schema]:
    job_id = [param_ref("JobId")]
    return {
        "/translate": {
            "post": operation(
                "createJob",
                "jobs",
                "Submit a translation job",
                {
                    "202": json_response(
                        "Accepted: the job is stored and pending.",
                        ref("CreateJobResponse"),
                        headers={
                            "Location": header_ref("Location"),
                            "Idempotent-Replayed": header_ref("IdempotentReplayed"),
                        },
                        links=links("getJob", "cancelJob", "watchJob"),
                    )
                },
                errors=("408", "413", "415", "422", "503"),
                parameters=[param_ref("IdempotencyKey")],
                requestBody={
                    "required": True,
                    "content": {JSON: {"schema": ref("CreateJobRequest")}},
                },
            )
        },
        "/jobs": {
            "get": operation(
                "listJobs",
                "jobs",
                "List jobs, newest first",
                {"200": json_response("A page of jobs.", ref("JobList"))},
                errors=("422", "503"),
                parameters=[
                    param_ref("Status"),
                    param_ref("Limit"),
                    param_ref("Cursor"),
                ],
            )
        },
        "/jobs/counts": {
            "get": operation(
                "countJobs",
                "jobs",
                "Count jobs by status",
                {"200": json_response("Jobs by status.", ref("JobCounts"))},
                errors=("422", "503"),
            )
        },
        "/jobs/{job_id}": {
            "get": operation(
                "getJob",
                "jobs",
                "A job's current state",
                {
                    "200": _job_response(
                        "The job; Retry-After while it is not final.",
                        "cancelJob",
                        "replayDeadLetter",
                    )
                },
                errors=("404", "422", "503"),
            ),
            "parameters": job_id,
        },
        "/jobs/{job_id}/cancel": {
            "post": operation(
                "cancelJob",
                "jobs",
                "Cancel a pending or processing job",
                {"200": _job_response("The cancelled job.", "getJob")},
                errors=("404", "409", "422", "503"),
            ),
            "parameters": job_id,
        },
        "/dlq": {
            "get": operation(
                "listDeadLetters",
                "dead letters",
                "Dead-lettered (failed) jobs, most recent first",
                {
                    "200": json_response(
                        "Failed jobs; next_cursor is always null.", ref("JobList")
                    )
                },
                errors=("422", "503"),
                parameters=[param_ref("Limit")],
            )
        },
        "/dlq/{job_id}/replay": {
            "post": operation(
                "replayDeadLetter",
                "dead letters",
                "Start a failed job over with fresh attempts",
                {
                    "202": _job_response(
                        "Accepted: the job is pending again.", "getJob", "cancelJob"
                    )
                },
                errors=("404", "409", "422", "503"),
            ),
            "parameters": job_id,
        },
    }


def parameters() -> dict[str, Schema]:
    return {
        "JobId": {
            "name": "job_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"},
            "description": "A job id; anything but a UUID is a 422.",
        },
        "Limit": {
            "name": "limit",
            "in": "query",
            "schema": {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE,
                "default": DEFAULT_PAGE,
            },
        },
        "Status": {
            "name": "status",
            "in": "query",
            "schema": ref("JobStatus"),
            "description": "Only jobs in this status.",
        },
        "Cursor": {
            "name": "cursor",
            "in": "query",
            "schema": {"type": "string", "minLength": 1, "pattern": "^[A-Za-z0-9_-]+$"},
            "description": "The next_cursor of the previous page; opaque.",
        },
        "IdempotencyKey": {
            "name": "Idempotency-Key",
            "in": "header",
            "schema": {
                "type": "string",
                "pattern": IDEMPOTENCY_KEY_PATTERN,
            },
            "description": "Retrying with the same key and body returns the first job "
            "(Idempotent-Replayed: true); the same key with another body is a 422.",
        },
    }


def headers() -> dict[str, Schema]:
    return {
        "RetryAfter": {
            "description": "Seconds to wait before polling (or retrying) again.",
            "schema": {"type": "string", "examples": [RETRY_AFTER_SECONDS]},
        },
        "Location": {
            "description": "The new job: /jobs/{job_id}.",
            "required": True,
            "schema": {"type": "string", "format": "uri-reference"},
        },
        "IdempotentReplayed": {
            "description": "Present (true) when an Idempotency-Key matched an earlier request.",
            "schema": {"const": "true"},
        },
    }
