"""GET /events: every stored version of the caller's jobs as Server-Sent Events, in
commit order, resumable exactly after any event id (the durable event log).

A stream reads the log, never the hub's events: the hub only wakes it. So what a
client is sent, and where it resumes, is what the store committed, the same on
every replica and after any restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Sequence

import orjson
from aiohttp import hdrs, web
from multidict import MultiMapping

from vts.api.auth import listing_tenant
from vts.api.validation import parse_job_id, query_value
from vts.errors import UnavailableError, ValidationError
from vts.events.log_reads import Page, SharedLogReads
from vts.events.streams import StreamSink
from vts.keys import event_streams_key, metrics_key, service_key, settings_key
from vts.service import JobService
from vts.snapshot import Snapshot

log = logging.getLogger(__name__)

PAGE = 500
"""Events read from the log at once."""
CHUNK_BYTES = 64 * 1024
"""Events are written in chunks of about this size, each waiting for the client."""
STALL_SECONDS = 10.0
"""A write the client does not take within this long ends the stream: a client
that stops reading holds no more than the socket's buffers, and may resume."""
MAX_JOB_IDS = 100
MAX_EVENT_ID = 2**63 - 1  # a seq is a 64-bit integer in both stores


def _decimal_at_most(bound: int) -> str:
    """A regular expression matching the decimals 0 to `bound` (leading zeros
    allowed up to its length), so the document states the limit exactly."""
    digits = str(bound)
    choices = [f"[0-9]{{1,{len(digits) - 1}}}"]
    for i, digit in enumerate(digits):
        if digit != "0":
            rest = len(digits) - i - 1
            choices.append(f"{digits[:i]}[0-{int(digit) - 1}][0-9]{{{rest}}}")
    choices.append(digits)
    return f"^(?:{'|'.join(choices)})$"


EVENT_ID_PATTERN = _decimal_at_most(MAX_EVENT_ID)
"""An event id as text: a decimal 0 to MAX_EVENT_ID."""
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
HEADERS = {
    hdrs.CONTENT_TYPE: "text/event-stream; charset=utf-8",
    hdrs.CACHE_CONTROL: "no-cache",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}
PING = b": ping\n\n"
_CURSOR_RULE = f"must be a decimal event id, 0 to {MAX_EVENT_ID}"


def event_bytes(seq: int, snapshot: Snapshot) -> bytes:
    """One `job` event; the body is compact JSON, so it never holds a newline."""
    return b"id: %d\nevent: job\ndata: %s\n\n" % (seq, snapshot.body)


def reset_bytes(seq: int, reason: str, detail: str) -> bytes:
    data = orjson.dumps({"reason": reason, "detail": detail})
    return b"id: %d\nevent: reset\ndata: %s\n\n" % (seq, data)


def chunked(parts: Iterable[bytes]) -> list[bytes]:
    """`parts` joined into writes of up to CHUNK_BYTES (or of one larger part)."""
    chunks: list[bytes] = []
    chunk: list[bytes] = []
    size = 0
    for part in parts:
        if chunk and size + len(part) > CHUNK_BYTES:
            chunks.append(b"".join(chunk))
            chunk, size = [], 0
        chunk.append(part)
        size += len(part)
    if chunk:
        chunks.append(b"".join(chunk))
    return chunks


def encode_page(page: Page) -> list[bytes]:
    """A page as its streams write it: made once for all that share the read."""
    return chunked(event_bytes(seq, snapshot) for seq, snapshot in page)


def parse_cursor(request: web.Request) -> int | None:
    """The event id to resume after: `Last-Event-ID` (as EventSource sends it),
    else `?last_event_id=`; None to start from now. ValidationError if malformed."""
    # Both are checked when both are sent: a malformed one is an error either way.
    query = _event_id("last_event_id", query_value(request.query, "last_event_id"))
    header = _event_id("Last-Event-ID", request.headers.get("Last-Event-ID"))
    return query if header is None else header


def _event_id(field: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    raw = raw.strip()
    if not _EVENT_ID.fullmatch(raw) or int(raw) > MAX_EVENT_ID:
        raise ValidationError(errors={field: _CURSOR_RULE})
    return int(raw)


def parse_job_ids(query: MultiMapping[str]) -> list[str] | None:
    """The `?job_id=` values (repeatable), canonical; None: every job."""
    raw = query.getall("job_id", [])
    if not raw:
        return None
    if len(raw) > MAX_JOB_IDS:
        raise ValidationError(errors={"job_id": f"at most {MAX_JOB_IDS} job ids"})
    return sorted({parse_job_id(value) for value in raw})


async def stream_events(request: web.Request) -> web.StreamResponse:
    """GET /events?job_id=&last_event_id=: the caller's tenant's job events (an
    admin's: every tenant's, or `tenant`'s)."""
    service = request.app[service_key]
    tenant = listing_tenant(request)
    job_ids = parse_job_ids(request.query)
    cursor = parse_cursor(request)
    sink = StreamSink(tenant)
    # Woken from now on, before the log is read: no change falls in between.
    _watch(service, sink, job_ids)
    try:
        head = await service.newest_event_seq()  # down: a 503 problem
        response = web.StreamResponse(headers=HEADERS)
        await response.prepare(request)
        await _stream(request, response, service, sink, job_ids, cursor, head)
        return response
    finally:
        _unwatch(service, sink, job_ids)


async def _stream(
    request: web.Request,
    response: web.StreamResponse,
    service: JobService,
    sink: StreamSink,
    job_ids: Sequence[str] | None,
    cursor: int | None,
    head: int,
) -> None:
    streams, metrics = request.app[event_streams_key], request.app[metrics_key]
    streams.add(sink)
    metrics.event_streams.inc()
    try:
        retention = request.app[settings_key].event_retention
        await _follow(
            response, service, streams.reads, sink, job_ids, cursor, head, retention
        )
    except TimeoutError:
        if not sink.stopping:
            metrics.event_streams_slow.inc()
            log.info("closed an event stream whose client stopped reading")
        # Unsent bytes would hold the connection open: drop them with it.
        if request.transport is not None:
            request.transport.abort()
    except ConnectionError:
        pass  # the client went away
    except UnavailableError as exc:
        # The status line is sent: end the stream, the client resumes.
        log.warning("event stream ended: %s", exc)
    finally:
        streams.discard(sink)
        metrics.event_streams.dec()


async def _follow(
    response: web.StreamResponse,
    service: JobService,
    reads: SharedLogReads,
    sink: StreamSink,
    job_ids: Sequence[str] | None,
    cursor: int | None,
    head: int,
    retention: float,
) -> None:
    """Send the log after the cursor, then every event as it is committed.

    Pages are read through `reads`, so streams woken together at the same cursor
    share one read and its encoding; none is held while the stream waits.
    Pruning deletes only events older than `retention`: so a read that follows the
    last one by less than half of it (the rest a margin for replicas' clocks) cannot
    have lost any, and only the others check the log's oldest event.
    """
    loop = asyncio.get_running_loop()
    after = head if cursor is None else cursor
    catching_up = cursor is not None
    read_at = loop.time()
    if cursor is not None and cursor > head:
        oldest = await service.oldest_event_seq()
        after = head if oldest is None else oldest - 1
        detail = f"event {cursor} was never sent: the log has started over"
        await _send(response, sink, [reset_bytes(after, "unknown", detail)])
    changed = True
    while not sink.stopping:
        sink.wake.clear()
        parts = [PING] if sink.ping else []
        sink.ping = False
        page: Page = []
        encoded: list[bytes] = []
        if changed or catching_up:
            sink.changed = False  # a change committed from here on reads again
            now = loop.time()
            lagging = retention > 0 and now - read_at > retention / 2
            read_at = now
            page, encoded = await reads.events_after(
                service, sink.tenant, after, job_ids, PAGE, encode_page
            )
            if (catching_up or lagging) and (not page or page[0][0] != after + 1):
                moved = await _pruned_to(service, after)
                if moved is not None:
                    detail = f"events after {after} were deleted (VTS_EVENT_RETENTION)"
                    parts.append(reset_bytes(moved, "pruned", detail))
                    await _send(response, sink, parts)
                    after, catching_up = moved, True
                    continue
        parts.extend(encoded)
        await _send(response, sink, parts)
        if page:
            after = page[-1][0]
        catching_up = len(page) == PAGE
        del page, encoded, parts  # the shared page is not held while waiting
        if not catching_up:
            await sink.wake.wait()
        changed = sink.changed


async def _pruned_to(service: JobService, after: int) -> int | None:
    """Where to go on from if events after `after` were pruned (None: none were).
    Read after the page: pruning only removes the oldest, so if they are still
    there now, the page missed none."""
    oldest = await service.oldest_event_seq()
    if oldest is None:
        head = await service.newest_event_seq()
        return head if after < head else None
    return oldest - 1 if after < oldest - 1 else None


async def _send(
    response: web.StreamResponse, sink: StreamSink, parts: Sequence[bytes]
) -> None:
    """Write in chunks, each within STALL_SECONDS (TimeoutError past it, or at
    once when the stream is stopped mid-write); nothing once it is stopped."""
    for chunk in chunked(parts):
        if sink.stopping:
            return
        async with asyncio.timeout(STALL_SECONDS) as deadline:
            sink.deadline = deadline
            try:
                await response.write(chunk)
            finally:
                sink.deadline = None


def _watch(
    service: JobService, sink: StreamSink, job_ids: Sequence[str] | None
) -> None:
    if job_ids is None:
        service.watch_all(sink)
    for job_id in job_ids or ():
        service.watch(job_id, sink)


def _unwatch(
    service: JobService, sink: StreamSink, job_ids: Sequence[str] | None
) -> None:
    if job_ids is None:
        service.unwatch_all(sink)
    for job_id in job_ids or ():
        service.unwatch(job_id, sink)
