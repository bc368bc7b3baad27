"""REST handlers for jobs and the dead-letter queue."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from aiohttp import web

from vts.api.auth import acting_tenant, creating_tenant, listing_tenant
from vts.api.validation import (
    idempotency_claim,
    parse_job_id,
    parse_job_request,
    parse_json_object,
    parse_limit,
    parse_status,
    query_value,
    require_json,
)
from vts.domain import JobStatus
from vts.keys import service_key, settings_key
from vts.service import JobService
from vts.snapshot import Snapshot

JSON = "application/json"
RETRY_AFTER_SECONDS = "1"
CREATED_MESSAGE = "Translation job started"


def _service(request: web.Request) -> JobService:
    return request.app[service_key]


def _job_response(snapshot: Snapshot, status: int = 200) -> web.Response:
    response = web.Response(body=snapshot.body, status=status, content_type=JSON)
    if not snapshot.final:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    return response


def _list_body(snapshots: Sequence[bytes], next_cursor: str | None) -> bytes:
    cursor = orjson.dumps(next_cursor)
    return b'{"jobs":[' + b",".join(snapshots) + b'],"next_cursor":' + cursor + b"}"


async def create_job(request: web.Request) -> web.Response:
    """POST /translate: 202 with the job id; an Idempotency-Key makes retries safe."""
    require_json(request.headers.get("Content-Type"))  # before reading the body
    body = parse_json_object(await request.read())
    allow_private = request.app[settings_key].allow_private_urls
    job_request = parse_job_request(body, allow_private_urls=allow_private)
    claim = idempotency_claim(request.headers.get("Idempotency-Key"), body)
    tenant = creating_tenant(request)
    job, created = await _service(request).submit(job_request, claim, tenant=tenant)
    headers = {"Location": f"/jobs/{job.job_id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    payload = {
        "job_id": job.job_id,
        "status": job.status.value,
        "message": CREATED_MESSAGE,
    }
    return web.Response(
        status=202, body=orjson.dumps(payload), content_type=JSON, headers=headers
    )


async def get_job(request: web.Request) -> web.Response:
    """GET /jobs/{job_id}: the job's snapshot; Retry-After while it is not final."""
    job_id = parse_job_id(request.match_info["job_id"])
    tenant = acting_tenant(request)
    return _job_response(await _service(request).snapshot(job_id, tenant=tenant))


async def list_jobs(request: web.Request) -> web.Response:
    """GET /jobs?status=&limit=&cursor=&tenant=: the caller's tenant's jobs (an
    admin's: every tenant's, or `tenant`'s), newest first, cursor pagination."""
    query = request.query
    status = parse_status(query_value(query, "status"))
    limit = parse_limit(query_value(query, "limit"))
    cursor = query_value(query, "cursor")
    tenant = listing_tenant(request)
    page = await _service(request).list_jobs(status, limit, cursor, tenant=tenant)
    snapshots = [Snapshot.of(job).body for job in page.jobs]
    body = _list_body(snapshots, page.next_cursor)
    return web.Response(body=body, content_type=JSON)


async def count_jobs(request: web.Request) -> web.Response:
    """GET /jobs/counts?tenant=: how many of the caller's tenant's jobs (an admin's:
    every tenant's, or `tenant`'s) are in each status; at most 2 s old."""
    counts = await _service(request).job_counts(listing_tenant(request))
    body = {"counts": {status.value: counts.get(status, 0) for status in JobStatus}}
    return web.Response(body=orjson.dumps(body), content_type=JSON)


async def cancel_job(request: web.Request) -> web.Response:
    """POST /jobs/{job_id}/cancel: 200 with the cancelled job; 409 if already final."""
    job_id = parse_job_id(request.match_info["job_id"])
    snapshot = await _service(request).cancel(job_id, tenant=acting_tenant(request))
    return _job_response(snapshot)


async def list_dead_letters(request: web.Request) -> web.Response:
    """GET /dlq?limit=&tenant=: the caller's tenant's dead-lettered jobs (an
    admin's: every tenant's, or `tenant`'s), most recent first."""
    limit = parse_limit(query_value(request.query, "limit"))
    tenant = listing_tenant(request)
    entries = await _service(request).dead_letters(limit, tenant=tenant)
    return web.Response(body=_list_body(entries, None), content_type=JSON)


async def replay_dead_letter(request: web.Request) -> web.Response:
    """POST /dlq/{job_id}/replay: the failed job starts over with fresh attempts."""
    job_id = parse_job_id(request.match_info["job_id"])
    snapshot = await _service(request).replay(job_id, tenant=acting_tenant(request))
    return _job_response(snapshot, status=202)
