"""One multiplexed /ws/jobs connection shared by every watch and wait of a client."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Final

import aiohttp

from translation_client._errors import TransportError, error_class
from translation_client._retry import backoff_delay
from translation_client._subscription import FALLBACK, Subscription
from translation_client._watch_table import WatchTable

log = logging.getLogger("translation_client")

MAX_IDS_PER_MESSAGE = 1000
"""The server accepts at most this many job ids in one subscribe message."""
WEBSOCKET_RETRY_SECONDS: Final = 60.0
"""After a refused upgrade, how long new watchers poll before the WebSocket is tried again."""


class WatchHub:
    """Keeps one `/ws/jobs` connection open for per-job subscriptions (WatchTable
    routes its messages).

    The connection opens with the first subscription. When it drops (the server
    restarted, a proxy cut it, heartbeats went unanswered) it is reopened with
    exponential backoff and jitter, and every watched job is subscribed again: the
    server answers with each job's current snapshot, and subscriptions drop versions
    they already have. After `max_retries` consecutive failed attempts every
    subscription ends with TransportError. If the server (or a proxy) answers the
    upgrade with anything but 101, subscriptions are told to fall back to polling.
    """

    def __init__(
        self,
        session: Callable[[], aiohttp.ClientSession],
        url: str,
        *,
        heartbeat: float,
        max_retries: int,
        retry_delay: float,
        connect_timeout: float,
    ) -> None:
        self._session = session
        self._url = url
        self._heartbeat = heartbeat
        self._max_retries = max_retries
        self._retry_delay = retry_delay
        self._connect_timeout = connect_timeout
        self._table = WatchTable(url, max_retries=max_retries, retry_delay=retry_delay)
        self._task: asyncio.Task[None] | None = None
        self._polling = False
        self._refused_at = 0.0
        self._closed = False
        self.connections_opened = 0
        """How many WebSocket connections this hub has opened (reconnects included)."""

    @property
    def polling(self) -> bool:
        """True while the WebSocket is refused and new watchers poll over HTTP instead.

        A refusal may be passing (a load balancer during a rolling deploy), so after
        WEBSOCKET_RETRY_SECONDS the next watcher tries the WebSocket again.
        """
        if (
            self._polling
            and time.monotonic() - self._refused_at > WEBSOCKET_RETRY_SECONDS
        ):
            self._polling = False
        return self._polling

    def subscribe(self, job_id: str) -> Subscription:
        if self._closed:
            raise TransportError("the client is closed")
        sub = Subscription(job_id)
        if self.polling:
            sub.end(FALLBACK)
            return sub
        self._table.add(sub)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="vts-client-watch")
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._table.remove(sub)

    async def close(self) -> None:
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._table.end_all(
            lambda: TransportError("the client was closed while waiting")
        )

    # --- the connection -----------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._connect_and_serve()
        except Exception as exc:  # a bug must not leave waits hanging forever
            log.exception("WebSocket %s: watching failed", self._url)
            # Not repr(exc): an aiohttp ClientResponseError's repr shows its request's
            # headers, the Authorization header (the API key) among them.
            reason = f"watching failed: {type(exc).__name__}: {exc}"
            self._table.end_all(functools.partial(TransportError, reason))

    async def _connect_and_serve(self) -> None:
        failures = 0
        while self._table.watching:
            try:
                ws = await self._session().ws_connect(
                    self._url,
                    heartbeat=self._heartbeat,
                    # A dead peer never answers a close: do not wait long for it.
                    timeout=aiohttp.ClientWSTimeout(
                        ws_close=min(self._connect_timeout, self._heartbeat)
                    ),
                )
            except aiohttp.WSServerHandshakeError as exc:
                if _refused_for_the_key(exc):
                    self._refuse(exc.status)
                else:
                    self._fall_back(exc)
                return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                error: Exception = exc
            else:
                self.connections_opened += 1
                try:
                    if await self._serve(ws):
                        failures = 0
                        continue  # it worked for a while: reconnect at once
                finally:
                    await ws.close()
                error = ConnectionError("closed before any message")
            failures += 1
            if failures > self._max_retries:
                reason = (
                    f"WebSocket {self._url} unreachable after {failures} attempts: "
                    f"{_describe(error)}"
                )
                self._table.end_all(functools.partial(TransportError, reason))
                return
            delay = backoff_delay(failures - 1, self._retry_delay)
            log.info(
                "WebSocket %s: %s; reconnecting in %.2fs",
                self._url,
                _describe(error),
                delay,
            )
            await asyncio.sleep(delay)

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        """Subscribe every watched job, then route messages until the connection ends;
        True if any message arrived."""
        initial = self._table.start_connection()
        sender = asyncio.create_task(self._send_forever(ws, initial))
        received = False
        try:
            while True:
                msg = await ws.receive()
                if msg.type is aiohttp.WSMsgType.TEXT:
                    received = True
                    self._table.dispatch(msg.data)
                elif msg.type in _ENDED:
                    if msg.type is aiohttp.WSMsgType.ERROR:
                        log.info("WebSocket %s failed: %s", self._url, msg.data)
                    return received
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def _send_forever(
        self, ws: aiohttp.ClientWebSocketResponse, initial: list[str]
    ) -> None:
        try:
            await self._send(ws, "subscribe", initial)
            while True:
                gone, new = await self._table.next_changes()
                await self._send(ws, "unsubscribe", gone)
                await self._send(ws, "subscribe", new)
        except (aiohttp.ClientError, ConnectionError, RuntimeError) as exc:
            # The reader sees the connection end and reconnects; nothing is lost,
            # since a new connection subscribes every watched job again.
            log.debug("WebSocket %s: send failed: %s", self._url, exc)

    @staticmethod
    async def _send(
        ws: aiohttp.ClientWebSocketResponse, kind: str, job_ids: list[str]
    ) -> None:
        for start in range(0, len(job_ids), MAX_IDS_PER_MESSAGE):
            chunk = job_ids[start : start + MAX_IDS_PER_MESSAGE]
            await ws.send_str(json.dumps({"type": kind, "job_ids": chunk}))

    def _refuse(self, status: int) -> None:
        """The upgrade was refused for the API key (401) or its scope (403): polling
        would be refused too, so every watch ends with the typed error."""
        title = HTTPStatus(status).phrase
        detail = f"the server refused the WebSocket {self._url}: HTTP {status} {title}"
        log.warning("%s", detail)
        self._table.end_all(lambda: error_class(status, "")(status, title, detail))

    def _fall_back(self, exc: aiohttp.WSServerHandshakeError) -> None:
        self._polling = True
        self._refused_at = time.monotonic()
        log.warning(
            "WebSocket %s refused (HTTP %s %s); falling back to polling "
            "GET /jobs/{job_id}",
            self._url,
            exc.status,
            exc.message,
        )
        self._table.end_all(lambda: FALLBACK)


_ENDED: Final = frozenset(
    {
        aiohttp.WSMsgType.CLOSE,
        aiohttp.WSMsgType.CLOSING,
        aiohttp.WSMsgType.CLOSED,
        aiohttp.WSMsgType.ERROR,
    }
)


def _refused_for_the_key(exc: aiohttp.WSServerHandshakeError) -> bool:
    """A refused upgrade that is about the API key, so polling would be refused too:
    any 401, and a 403 that vts itself sent (problem+json). A bare 403 is a proxy
    refusing WebSockets, which polling gets around."""
    if exc.status == 401:
        return True
    headers = exc.headers
    content_type = str(headers.get("Content-Type", "")) if headers is not None else ""
    return exc.status == 403 and content_type.startswith("application/problem+json")


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
