"""WebSocket endpoints: /ws/job/{job_id} (one job) and /ws/jobs (many, or all)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from vts.api.auth import WS_BEARER_PROTOCOL, acting_tenant
from vts.api.outbox import WatcherSink
from vts.api.validation import parse_job_id, query_value
from vts.errors import JobNotFoundError, ValidationError, VtsError
from vts.keys import metrics_key, service_key, websockets_key
from vts.service import JobService

log = logging.getLogger(__name__)


class _HideOfferedProtocols(logging.Filter):
    """aiohttp logs the subprotocols a client offered when none is `vts.bearer`;
    a client that put its key there must not find it in the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "Client protocols" in str(record.msg) and isinstance(record.args, tuple):
            record.args = (record.args[0], "[hidden]", *record.args[2:])
        return True


logging.getLogger("aiohttp.websocket").addFilter(_HideOfferedProtocols())

HEARTBEAT_SECONDS = 20.0
MAX_INCOMING_BYTES = 64 * 1024
MAX_SUBSCRIBE_IDS = 1000
PONG = b'{"type":"pong"}'


def _error_message(code: str, detail: str, **extra: Any) -> bytes:
    return orjson.dumps({"type": "error", "code": code, "detail": detail, **extra})


async def _start_watching(service: JobService, sink: WatcherSink, job_id: str) -> None:
    """Watch first, then read the snapshot: an event in between is not missed, and the
    version check orders the two. Raises JobNotFoundError."""
    service.watch(job_id, sink)
    sink.watching.add(job_id)
    try:
        snapshot = await service.snapshot(job_id, tenant=sink.tenant)
    except BaseException:
        service.unwatch(job_id, sink)
        sink.watching.discard(job_id)
        raise
    sink.push(snapshot, snapshot.message)


async def _open(
    request: web.Request, endpoint: str, tenant: str | None
) -> tuple[web.WebSocketResponse, WatcherSink]:
    # A client that sent its key as the subprotocol pair `vts.bearer, <key>` gets
    # `vts.bearer` selected: the key itself is never echoed.
    ws = web.WebSocketResponse(
        heartbeat=HEARTBEAT_SECONDS,
        max_msg_size=MAX_INCOMING_BYTES,
        protocols=(WS_BEARER_PROTOCOL,),
        # Job messages are written as uncompressed frames (vts.api.outbox):
        # negotiating permessage-deflate would buy nothing.
        compress=False,
    )
    await ws.prepare(request)
    request.app[websockets_key].add(ws)
    request.app[metrics_key].websockets_open(endpoint).inc()
    return ws, WatcherSink(ws, request, tenant)


async def _close(request: web.Request, sink: WatcherSink, endpoint: str) -> None:
    sink.close()
    request.app[metrics_key].websockets_open(endpoint).dec()


async def _handle_message(
    raw: str, sink: WatcherSink, service: JobService, multi: bool
) -> None:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        sink.push_control(
            _error_message("malformed-message", "messages must be JSON objects")
        )
        return
    kind = message.get("type") if isinstance(message, dict) else None
    if kind == "ping":
        sink.push_control(PONG)
    elif multi and kind in ("subscribe", "unsubscribe"):
        ids = message.get("job_ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            sink.push_control(
                _error_message("malformed-message", "job_ids must be a list of strings")
            )
        elif len(ids) > MAX_SUBSCRIBE_IDS:
            sink.push_control(
                _error_message(
                    "too-many-ids", f"at most {MAX_SUBSCRIBE_IDS} job_ids per message"
                )
            )
        elif kind == "subscribe":
            await asyncio.gather(
                *(_subscribe_one(raw_id, sink, service) for raw_id in ids)
            )
        else:
            for raw_id in ids:
                service.unwatch(raw_id, sink)
                sink.forget(raw_id)
    else:
        accepted = "ping, subscribe, unsubscribe" if multi else "ping"
        sink.push_control(
            _error_message(
                "unknown-message",
                f"unknown message type {kind!r}; accepted: {accepted}",
            )
        )


async def _subscribe_one(raw_id: str, sink: WatcherSink, service: JobService) -> None:
    try:
        await _start_watching(service, sink, parse_job_id(raw_id))
    except VtsError as exc:  # unknown or malformed id, store unavailable
        sink.push_control(_error_message(exc.code, exc.message, job_id=raw_id))


async def _read_until_closed(
    ws: web.WebSocketResponse,
    sink: WatcherSink,
    service: JobService,
    multi: bool,
) -> None:
    async for msg in ws:
        if msg.type is WSMsgType.TEXT:
            await _handle_message(msg.data, sink, service, multi)
        elif msg.type is WSMsgType.BINARY:
            sink.push_control(_error_message("malformed-message", "send text frames"))


def _require_upgrade(request: web.Request) -> None:
    """A plain HTTP request gets 426 (RFC 9110 15.5.22); a broken handshake, 400."""
    if request.headers.get("Upgrade", "").lower() != "websocket":
        raise web.HTTPUpgradeRequired(headers={"Upgrade": "websocket"})


async def watch_job(request: web.Request) -> web.StreamResponse:
    """WS /ws/job/{job_id}: the current snapshot, then one message per change."""
    service = request.app[service_key]
    job_id = parse_job_id(request.match_info["job_id"])
    tenant = acting_tenant(request)
    _require_upgrade(request)
    await service.snapshot(job_id, tenant=tenant)  # 404 before the upgrade
    ws, sink = await _open(request, "job", tenant)
    try:
        await _start_watching(service, sink, job_id)
        await _read_until_closed(ws, sink, service, multi=False)
    except JobNotFoundError:
        await ws.close(code=1011, message=b"job vanished")
    finally:
        service.unwatch(job_id, sink)
        await _close(request, sink, "job")
    return ws


async def watch_jobs(request: web.Request) -> web.StreamResponse:
    """WS /ws/jobs: subscribe/unsubscribe to many jobs; `?all=true` streams every job
    of the caller's tenant (an admin's: of every tenant, or of VTS-Tenant's)."""
    service = request.app[service_key]
    raw_all = query_value(request.query, "all")
    watch_all = "false" if raw_all is None else raw_all.lower()
    if watch_all not in ("true", "false", "1", "0"):
        raise ValidationError(errors={"all": "must be true or false"})
    tenant = acting_tenant(request)
    _require_upgrade(request)
    ws, sink = await _open(request, "jobs", tenant)
    if watch_all in ("true", "1"):
        service.watch_all(sink)
    try:
        await _read_until_closed(ws, sink, service, multi=True)
    finally:
        service.unwatch_all(sink)
        for job_id in list(sink.watching):
            service.unwatch(job_id, sink)
        await _close(request, sink, "jobs")
    return ws
