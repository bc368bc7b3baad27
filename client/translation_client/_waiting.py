"""Waiting for a job: polled over HTTP when the WebSocket cannot be used, and the
final version turned into the job or the error of its status."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import cast

from translation_client._errors import (
    JobCancelledError,
    JobFailedError,
    TransportError,
    WaitTimeoutError,
)
from translation_client._http import Http
from translation_client._models import Job, is_final
from translation_client._retry import parse_retry_after, retry_wait

POLL_MAX_DELAY = 10.0
"""Longest pause between two polls of a job when the server sends no Retry-After."""


async def poll_job(
    http: Http, path: str, after_version: int, retry_delay: float
) -> AsyncGenerator[Job, None]:
    """The job at `path` (`/jobs/{job_id}`) after `after_version`, each new version
    once, until a final one; paced by Retry-After, else by backoff."""
    attempt = 0
    while True:
        data, headers = await http.request("GET", path)
        job = cast(Job, data)
        if job["version"] > after_version or is_final(job):
            after_version = job["version"]
            attempt = 0
            yield job
        if is_final(job):
            return
        retry_after = parse_retry_after(headers.get("Retry-After"))
        delay = retry_wait(attempt, retry_delay, retry_after, cap=POLL_MAX_DELAY)
        attempt += 1
        await asyncio.sleep(delay)


async def final_job(
    updates: AsyncGenerator[Job, None],
    job_id: str,
    timeout: float | None,
    on_update: Callable[[Job], None] | None,
) -> Job:
    """The last of `updates` (closed when done), if completed; see
    TranslationClient.wait_for_completion for the errors."""
    last: Job | None = None
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            async with contextlib.aclosing(updates):
                async for job in updates:
                    last = job
                    if on_update is not None:
                        on_update(job)
    except TimeoutError:
        if deadline.expired():
            raise WaitTimeoutError(job_id, timeout or 0.0, last) from None
        raise
    if last is None:  # pragma: no cover - watch always ends with a final job
        raise TransportError(f"job {job_id}: the watch ended without a status")
    if last["status"] == "failed":
        raise JobFailedError(last)
    if last["status"] == "cancelled":
        raise JobCancelledError(last)
    return last
