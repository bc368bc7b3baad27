"""HTTP calls to vts with retries: backoff with jitter, Retry-After, typed errors."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp

from translation_client._auth import Secret, default_headers
from translation_client._errors import TransportError, api_error
from translation_client._retry import (
    RETRY_STATUSES,
    backoff_delay,
    parse_retry_after,
    retry_wait,
)

log = logging.getLogger("translation_client")


class Http:
    """One aiohttp session (opened on first use) and the retry policy around it.

    The session sends the API key (if any) and User-Agent on every request and
    WebSocket upgrade; the key is kept nowhere else, and never logged.
    """

    def __init__(
        self,
        base_url: str,
        *,
        max_retries: int,
        retry_delay: float,
        timeout: float,
        api_key: str | None = None,
    ) -> None:
        self.base_url = base_url
        self.max_retries = max_retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self._api_key = Secret(api_key) if api_key is not None else None
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<Http {self.base_url!r}>"

    def session(self) -> aiohttp.ClientSession:
        """The session; TransportError once closed. `timeout` bounds each request
        (and a WebSocket handshake, not the WebSocket's life)."""
        if self._closed:
            raise TransportError("the client is closed")
        if self._session is None:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers=default_headers(self._api_key),
            )
        return self._session

    async def close(self) -> None:
        self._closed = True
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Mapping[str, str]]:
        """One API call; the decoded JSON body and the response headers.

        Connection errors, timeouts, 429, 502, 503 and 504 are retried up to
        `max_retries` times (Retry-After wins over the backoff); 401 and 403 never
        are. Raises the APIError subclass of the problem for other errors and once
        retries are spent, and TransportError when no answer came.
        """
        url = self.base_url + path
        answer_lost = False  # an earlier attempt may have been done, unbeknown
        for attempt in range(self.max_retries + 1):
            last_try = attempt == self.max_retries
            unanswered = False
            try:
                async with self.session().request(
                    method, url, json=body, params=params, headers=headers
                ) as response:
                    raw = await response.read()
                    if response.status < 400:
                        return _decode(raw, method, url), response.headers
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                    if response.status not in RETRY_STATUSES or last_try:
                        error = api_error(
                            response.status, raw, response.reason, retry_after
                        )
                        error.answer_lost = answer_lost
                        raise error
                    delay = retry_wait(attempt, self.retry_delay, retry_after)
                    reason = f"HTTP {response.status}"
                    # a proxy's 502/504: vts may have done it all the same
                    answer_lost |= response.status in (502, 504)
            except (aiohttp.ClientError, TimeoutError) as exc:
                reason = (
                    f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                )
                unanswered = answer_lost = True
                delay = backoff_delay(attempt, self.retry_delay)
            if unanswered and last_try:
                # Raised out here, so aiohttp's error is neither its cause nor its
                # context: its repr keeps the request's headers (the API key), and a
                # chain of causes reaches logs and error trackers whole. Its type
                # and message are in ours.
                raise TransportError(
                    f"{method} {url} failed after {attempt + 1} attempts: {reason}"
                )
            log.info("%s %s: %s; retrying in %.2fs", method, url, reason, delay)
            await asyncio.sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover


def _decode(raw: bytes, method: str, url: str) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError as exc:
        raise TransportError(f"{method} {url}: the answer is not JSON") from exc
