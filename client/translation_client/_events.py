"""Following GET /events: typed job events, reconnecting after the last one seen."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Final, cast

import aiohttp

from translation_client._errors import TransportError, api_error
from translation_client._http import Http
from translation_client._models import Job
from translation_client._retry import RETRY_STATUSES, parse_retry_after, retry_wait
from translation_client._sse import ServerSentEvent, SseParser

log = logging.getLogger("translation_client")

READ_TIMEOUT: Final = 45.0
"""Seconds without a byte before a stream is taken as dead and reopened: the server
sends a heartbeat comment every 15 s."""


@dataclass(frozen=True)
class JobEvent:
    """One stored version of a job; `id` resumes the stream right after it."""

    id: str
    job: Job


@dataclass(frozen=True)
class StreamReset:
    """Events between the last id and this one are gone (older than the server's
    event retention, or from a database that started over): refetch the state of
    the jobs you follow, then carry on; `reason` is `pruned` or `unknown`."""

    id: str
    reason: str
    detail: str


StreamEvent = JobEvent | StreamReset


async def follow_events(
    http: Http,
    job_ids: Sequence[str] | None,
    last_event_id: str | None,
) -> AsyncGenerator[StreamEvent, None]:
    """The events of `GET /events`, reconnecting with backoff (Retry-After and the
    server's `retry:` win) after the last id yielded. `max_retries` failed attempts
    in a row raise TransportError or the APIError of the last answer; a 4xx other
    than 429 is raised at once."""
    params = [("job_id", job_id) for job_id in job_ids or ()]
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=http.timeout, sock_read=READ_TIMEOUT
    )
    failures = 0
    while True:
        headers = {} if last_event_id is None else {"Last-Event-ID": last_event_id}
        parser = SseParser()
        retry_after: float | None = None
        try:
            async with http.session().get(
                http.base_url + "/events",
                params=params,
                headers=headers,
                timeout=timeout,
            ) as response:
                if response.status != 200:
                    raw = await response.read()
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    error = api_error(
                        response.status, raw, response.reason, retry_after
                    )
                    if response.status not in RETRY_STATUSES or failures >= (
                        http.max_retries
                    ):
                        raise error
                    reason = f"HTTP {response.status}"
                else:
                    failures = 0  # connected: a later drop starts the backoff over
                    async for chunk in response.content.iter_any():
                        for sse in parser.feed(chunk):
                            event = _typed(sse)
                            if event is None:
                                continue
                            last_event_id = event.id
                            yield event
                    reason = "the server ended the stream"
        except (aiohttp.ClientError, TimeoutError) as exc:
            if failures >= http.max_retries:
                raise TransportError(
                    f"GET {http.base_url}/events failed after {failures + 1} "
                    f"attempts: {type(exc).__name__}: {exc}"
                ) from None
            reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        if parser.retry is not None and retry_after is None:
            retry_after = parser.retry / 1000
        delay = retry_wait(failures, http.retry_delay, retry_after)
        failures += 1
        log.info("GET /events: %s; reconnecting in %.2fs", reason, delay)
        await asyncio.sleep(delay)


def _typed(sse: ServerSentEvent) -> StreamEvent | None:
    """The typed event; None for event types this client does not know."""
    if sse.event == "job":
        return JobEvent(sse.id, cast(Job, json.loads(sse.data)))
    if sse.event == "reset":
        data = json.loads(sse.data)
        return StreamReset(sse.id, str(data.get("reason")), str(data.get("detail")))
    return None
