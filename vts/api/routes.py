"""The route table, and the health endpoints."""

from __future__ import annotations

import orjson
from aiohttp import web

from vts.api import admin, events_stream, jobs, metrics, openapi, webhooks, ws
from vts.api.problems import PROBLEM_TYPE_BASE, instance_of
from vts.api.ui import setup_ui_routes
from vts.errors import StoreNotWritableError, UnavailableError
from vts.keys import broker_key, metrics_key, store_key


async def healthz(request: web.Request) -> web.Response:
    """GET /healthz: the process is alive and serving."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """GET /readyz: 200 while the store answers and can write; the broker's state is
    reported.

    A store that answers reads but cannot write (a full disk, read-only) is not ready:
    a replica that cannot accept jobs must leave the rotation. A broker outage degrades
    the cache and the relay but loses nothing, so it does not take the replica out of
    rotation (that would turn a Redis blip into an outage).
    """
    checks: dict[str, str] = {}
    store_error: UnavailableError | None = None
    for name, port in (
        ("store", request.app[store_key]),
        ("broker", request.app[broker_key]),
    ):
        try:
            await port.ping()
            checks[name] = "ok"
        except UnavailableError as exc:
            writes = isinstance(exc, StoreNotWritableError)
            checks[name] = f"{'not writable' if writes else 'unavailable'}: {exc}"
            if name == "store":
                store_error = exc
    request.app[metrics_key].store_writable.set(store_error is None)
    body = {
        "status": "ready" if store_error is None else "unavailable",
        "checks": checks,
    }
    if store_error is not None:
        return web.Response(
            status=503,
            body=orjson.dumps(
                {
                    # The problem's own `status` (the HTTP code) wins over the body's.
                    **body,
                    "type": PROBLEM_TYPE_BASE + store_error.code,
                    "title": _TITLES.get(
                        store_error.code, _TITLES["store-unavailable"]
                    ),
                    "status": 503,
                    "detail": checks["store"],
                    "instance": instance_of(request),
                }
            ),
            content_type="application/problem+json",
            headers={"Retry-After": "1"},
        )
    return web.json_response(body)


_TITLES = {
    "store-unavailable": "The job store is unreachable.",
    "store-not-writable": "The job store cannot write.",
}


def setup_routes(app: web.Application) -> None:
    app.router.add_post("/translate", jobs.create_job)
    app.router.add_get("/jobs", jobs.list_jobs)
    app.router.add_get("/jobs/counts", jobs.count_jobs)
    app.router.add_get("/jobs/{job_id}", jobs.get_job)
    app.router.add_post("/jobs/{job_id}/cancel", jobs.cancel_job)
    app.router.add_get("/dlq", jobs.list_dead_letters)
    app.router.add_post("/dlq/{job_id}/replay", jobs.replay_dead_letter)
    app.router.add_get("/ws/job/{job_id}", ws.watch_job)
    app.router.add_get("/ws/jobs", ws.watch_jobs)
    app.router.add_get("/events", events_stream.stream_events, allow_head=False)
    app.router.add_post("/webhooks", webhooks.create_webhook)
    app.router.add_get("/webhooks", webhooks.list_webhooks)
    app.router.add_get("/webhooks/{webhook_id}", webhooks.get_webhook)
    app.router.add_delete("/webhooks/{webhook_id}", webhooks.delete_webhook)
    app.router.add_post("/webhooks/{webhook_id}/rotate-secret", webhooks.rotate_secret)
    app.router.add_get("/webhooks/{webhook_id}/deliveries", webhooks.list_deliveries)
    app.router.add_post(
        "/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
        webhooks.retry_delivery,
    )
    app.router.add_post("/admin/keys", admin.create_key)
    app.router.add_get("/admin/keys", admin.list_keys)
    app.router.add_delete("/admin/keys/{key_id}", admin.revoke_key)
    app.router.add_get("/admin/tenants", admin.list_tenants)
    app.router.add_put("/admin/tenants/{tenant}", admin.put_tenant)
    app.router.add_get("/metrics", metrics.render_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/openapi.json", openapi.serve_openapi)
    setup_ui_routes(app)
