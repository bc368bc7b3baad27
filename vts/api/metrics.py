"""GET /metrics and the middleware that times every request by route."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vts.api.problems import CLIENT_CLOSED_REQUEST, Handler, client_gone
from vts.errors import BrokerUnavailableError, UnavailableError
from vts.keys import metrics_key, service_key, store_key
from vts.webhooks.port import WebhookStore


def _route(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
async def request_metrics_middleware(
    request: web.Request, handler: Handler
) -> web.StreamResponse:
    if request.path.startswith("/ws/"):
        # A WebSocket is counted by vts_websocket_connections; its life is no latency.
        return await handler(request)
    metrics = request.app[metrics_key]
    started = time.perf_counter()
    status = 500
    streamed = False
    try:
        response = await handler(request)
        status = response.status
        # An event stream (GET /events) is counted by vts_event_streams: its life
        # is no latency either.
        streamed = not isinstance(response, web.Response)
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        if not streamed:
            # A client that hung up before its answer was sent is no server error.
            if client_gone(request):
                status = CLIENT_CLOSED_REQUEST
            metrics.observe_request(
                request.method, _route(request), status, time.perf_counter() - started
            )


async def render_metrics(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text; job, DLQ and webhook gauges are read at scrape
    time."""
    metrics = request.app[metrics_key]
    try:
        await request.app[store_key].ping()
        metrics.store_writable.set(1)
    except UnavailableError:
        metrics.store_writable.set(0)
    try:
        counts = await request.app[service_key].job_counts()
        for status, count in counts.items():
            metrics.jobs_by_state.labels(status.value).set(count)
    except UnavailableError:
        pass
    try:
        metrics.dlq_size.set(await request.app[service_key].dead_letter_count())
    except BrokerUnavailableError:
        metrics.broker_errors.labels("dlq_size").inc()
    except UnavailableError:
        pass
    store = request.app[store_key]
    if isinstance(store, WebhookStore):
        try:
            outbox = await store.webhook_counts()
            metrics.webhook_outbox_depth.set(outbox.pending)
            metrics.webhook_endpoints_disabled.set(outbox.disabled)
            metrics.webhook_undispatched.set(outbox.undispatched)
        except UnavailableError:
            pass
    body = generate_latest(metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
