"""TranslationClient: the asyncio client of the vts REST and WebSocket API."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, cast
from urllib.parse import quote

from translation_client._auth import TENANT_HEADER, resolve_api_key
from translation_client._errors import ConflictError
from translation_client._events import StreamEvent, follow_events
from translation_client._http import Http
from translation_client._lost_answers import done_before, is_cancelled, is_replayed
from translation_client._models import CreatedJob, Job, is_final
from translation_client._waiting import final_job, poll_job
from translation_client._watch import WatchHub
from translation_client._webhook_endpoints import WebhookEndpoints

# The constructor's defaults, shared with SyncTranslationClient.
DEFAULT_URL = "http://localhost:8000"
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY = 1.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_HEARTBEAT = 5.0


class TranslationClient:
    """Talks to one vts server; use it as `async with TranslationClient(url) as c:`.

    - `max_retries`: how many times a request that failed transiently (no connection,
      502, 503, 504, 429) is retried, and how many consecutive failed attempts to
      reopen the WebSocket are tolerated. Other 4xx answers are never retried.
    - `retry_delay`: the base of the exponential backoff (with jitter) between
      retries, in seconds; a `Retry-After` from the server wins.
    - `timeout`: the limit of each HTTP request (and WebSocket handshake), seconds.
    - `heartbeat_interval`: the WebSocket is pinged this often; a connection that
      does not answer within half of it more is taken as dead and reopened.
    - `api_key`: sent as `Authorization: Bearer <key>` on every request and
      WebSocket upgrade; None reads the VTS_API_KEY environment variable (once,
      here), "" sends no key. A server without auth (the loopback default) needs
      none. A refused key raises AuthenticationError (401), a key without the
      scope PermissionDeniedError (403); neither is retried. The key never appears
      in `repr()`, errors or logs.

    Every watch and wait of one client shares one `/ws/jobs` connection.
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        max_retries: int = DEFAULT_MAX_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        timeout: float = DEFAULT_TIMEOUT,
        heartbeat_interval: float = DEFAULT_HEARTBEAT,
        *,
        api_key: str | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if timeout <= 0 or heartbeat_interval <= 0 or retry_delay < 0:
            raise ValueError(
                "timeout and heartbeat_interval must be > 0, retry_delay >= 0"
            )
        self.base_url = base_url.rstrip("/")
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.heartbeat_interval = heartbeat_interval
        self._http = Http(
            self.base_url,
            max_retries=max_retries,
            retry_delay=retry_delay,
            timeout=timeout,
            api_key=resolve_api_key(api_key),
        )
        self._hub: WatchHub | None = None
        self.webhooks = WebhookEndpoints(self._http)
        """The tenant's webhook endpoints (`translation_client.webhooks.verify`
        checks what they receive)."""

    def __repr__(self) -> str:
        return f"<TranslationClient {self.base_url!r}>"

    async def __aenter__(self) -> TranslationClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the WebSocket and the HTTP connections; waits still running end
        with TransportError."""
        hub, self._hub = self._hub, None
        if hub is not None:
            await hub.close()
        await self._http.close()

    # --- jobs ---------------------------------------------------------------------

    async def start_translation(
        self,
        source_language: str,
        target_language: str,
        metadata: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        tenant: str | None = None,
    ) -> CreatedJob:
        """Create a job (`POST /translate`); `{"job_id", "status", "message"}`.

        Always sends an `Idempotency-Key` (a new uuid4 unless given), so a retried
        request never creates a second job; the same key and body return the same
        job (keys are scoped per tenant). `tenant`: create the job in that tenant
        (header `VTS-Tenant`; an admin key only). Raises ValidationError (bad
        languages or metadata), IdempotencyKeyReusedError, AuthenticationError,
        PermissionDeniedError, TransportError, ServiceUnavailableError.
        """
        body = {
            "source_language": source_language,
            "target_language": target_language,
            "metadata": dict(metadata),
        }
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        if tenant is not None:
            headers[TENANT_HEADER] = tenant
        data, _ = await self._http.request(
            "POST", "/translate", body=body, headers=headers
        )
        return cast(CreatedJob, data)

    async def get_job(self, job_id: str) -> Job:
        """The job's current state (`GET /jobs/{job_id}`); NotFoundError if unknown."""
        data, _ = await self._http.request("GET", _job_path(job_id))
        return cast(Job, data)

    async def list_jobs(
        self, status: str | None = None, page_size: int = 100
    ) -> AsyncGenerator[Job, None]:
        """Every job (or those with `status`), newest first, fetched page by page."""
        cursor: str | None = None
        while True:
            params = {"limit": str(page_size)}
            if status is not None:
                params["status"] = status
            if cursor is not None:
                params["cursor"] = cursor
            page, _ = await self._http.request("GET", "/jobs", params=params)
            for job in page["jobs"]:
                yield cast(Job, job)
            cursor = page.get("next_cursor")
            if not cursor:
                return

    async def cancel(self, job_id: str) -> Job:
        """Cancel a pending or running job; the cancelled job. ConflictError if it
        is already final, NotFoundError if unknown.

        A retry after a lost answer that gets 409 returns the job if it is
        cancelled: the lost attempt did it."""
        try:
            data, _ = await self._http.request("POST", _job_path(job_id) + "/cancel")
        except ConflictError as exc:
            return await done_before(exc, lambda: self.get_job(job_id), is_cancelled)
        return cast(Job, data)

    async def list_dead_letters(self, limit: int = 100) -> list[Job]:
        """Dead-lettered (failed) jobs, most recent first (`GET /dlq`)."""
        data, _ = await self._http.request("GET", "/dlq", params={"limit": str(limit)})
        return cast(list[Job], data["jobs"])

    async def replay(self, job_id: str) -> Job:
        """Start a failed job over with fresh attempts; ConflictError if not failed.

        A retry after a lost answer that gets 409 returns the job if it is pending
        or processing again: the lost attempt replayed it."""
        path = "/dlq/" + quote(job_id, safe="") + "/replay"
        try:
            data, _ = await self._http.request("POST", path)
        except ConflictError as exc:
            return await done_before(exc, lambda: self.get_job(job_id), is_replayed)
        return cast(Job, data)

    # --- watching -----------------------------------------------------------------

    async def watch(self, job_id: str) -> AsyncGenerator[Job, None]:
        """The job's current state, then every change: each version once, in order,
        ending after a final status (completed, failed, cancelled).

        Pushed over the client's shared WebSocket; if the WebSocket is refused, the
        job is polled over HTTP instead. Raises NotFoundError, TransportError.
        """
        self._http.session()  # TransportError if closed
        sub = self._watch_hub().subscribe(job_id)
        try:
            while True:
                item = await sub.get()
                if isinstance(item, Exception):
                    raise item
                if not isinstance(item, dict):
                    break  # the WebSocket was refused: poll from here
                yield item
                if is_final(item):
                    return
        finally:
            if self._hub is not None:
                self._hub.unsubscribe(sub)
        polled = poll_job(
            self._http, _job_path(job_id), sub.last_version, self.retry_delay
        )
        async for job in polled:
            yield job

    async def wait_for_completion(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Wait until the job is final; the completed job.

        `on_update`, if given, is called with every version as it arrives (progress
        bars). Raises JobFailedError (with `.job` and `.error`), JobCancelledError,
        WaitTimeoutError (also a TimeoutError) after `timeout` seconds, NotFoundError,
        TransportError.
        """
        return await final_job(self.watch(job_id), job_id, timeout, on_update)

    async def events(
        self,
        job_ids: Iterable[str] | None = None,
        last_event_id: str | int | None = None,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Every stored version of the tenant's jobs (only `job_ids`' if given), in
        commit order, from `GET /events`: JobEvent(id, job), and StreamReset(id,
        reason, detail) when events after `last_event_id` are gone (refetch state).

        Without `last_event_id` it starts with changes from now on; `0` replays
        everything the server still keeps. Runs until you stop iterating; a dropped
        connection is reopened with backoff, resuming right after the last event
        yielded (no gap, no duplicate). Raises TransportError after `max_retries`
        failed attempts in a row, and the APIError of a 4xx (ValidationError for a
        malformed id, AuthenticationError, PermissionDeniedError) at once.
        """
        ids = None if job_ids is None else list(job_ids)
        cursor = None if last_event_id is None else str(last_event_id)
        async for event in follow_events(self._http, ids, cursor):
            yield event

    # --- plumbing -----------------------------------------------------------------

    def _watch_hub(self) -> WatchHub:
        if self._hub is None:
            scheme, _, rest = self.base_url.partition("://")
            ws_scheme = {"https": "wss", "http": "ws"}.get(scheme.lower(), scheme)
            self._hub = WatchHub(
                self._http.session,
                f"{ws_scheme}://{rest}/ws/jobs",
                heartbeat=self.heartbeat_interval,
                max_retries=self.max_retries,
                retry_delay=self.retry_delay,
                connect_timeout=self.timeout,
            )
        return self._hub


def _job_path(job_id: str) -> str:
    return "/jobs/" + quote(job_id, safe="")
