"""The jobs one /ws/jobs connection watches: who gets each message, and which
subscribe and unsubscribe messages are still to be sent."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Final, cast

from translation_client._errors import (
    APIError,
    ServiceUnavailableError,
    TranslationClientError,
    error_class,
)
from translation_client._models import FINAL_STATUSES, Job
from translation_client._retry import backoff_delay
from translation_client._subscription import Fallback, Subscription

log = logging.getLogger("translation_client")

# Codes of /ws/jobs error messages that will not change on a retry.
_STATUS_BY_CODE: Final = {"job-not-found": 404, "validation-error": 422}


class _JobState:
    __slots__ = ("errors", "latest", "subs")

    def __init__(self) -> None:
        self.subs: set[Subscription] = set()
        self.latest: Job | None = None
        self.errors = 0


class WatchTable:
    """Each watched job's subscriptions and latest version, for one WatchHub.

    Changes to what the server should watch are queued and `wake` is set; the
    hub's sender takes them with `next_changes`. A job error the server may get
    over (the store unavailable, say) is subscribed again with backoff, at most
    `max_retries` times in a row; `url` only names the connection in logs.
    """

    def __init__(self, url: str, *, max_retries: int, retry_delay: float) -> None:
        self._url = url
        self._max_retries = max_retries
        self._retry_delay = retry_delay
        self._jobs: dict[str, _JobState] = {}
        self._to_subscribe: set[str] = set()
        self._to_unsubscribe: set[str] = set()
        self._wake = asyncio.Event()

    @property
    def watching(self) -> bool:
        """True while some job has a subscription."""
        return any(state.subs for state in self._jobs.values())

    def add(self, sub: Subscription) -> None:
        state = self._jobs.get(sub.job_id)
        if state is None:
            state = self._jobs[sub.job_id] = _JobState()
            self._to_subscribe.add(sub.job_id)
            self._wake.set()
        elif state.latest is not None:
            # The server sends a snapshot once per connection: hand over ours.
            sub.offer(state.latest)
        state.subs.add(sub)

    def remove(self, sub: Subscription) -> None:
        state = self._jobs.get(sub.job_id)
        if state is None or sub not in state.subs:
            return
        state.subs.discard(sub)
        if not state.subs:
            # Sent lazily: a new watcher arriving first keeps the server's watch.
            self._to_unsubscribe.add(sub.job_id)
            self._wake.set()

    def start_connection(self) -> list[str]:
        """Every watched job, all to subscribe on a new connection, which watches
        nothing yet: queued changes are forgotten."""
        for job_id in [j for j, state in self._jobs.items() if not state.subs]:
            del self._jobs[job_id]
        self._to_subscribe.clear()
        self._to_unsubscribe.clear()
        return list(self._jobs)

    async def next_changes(self) -> tuple[list[str], list[str]]:
        """Once something changed: the jobs to unsubscribe, and those to subscribe."""
        await self._wake.wait()
        self._wake.clear()
        gone = [
            job_id
            for job_id in self._to_unsubscribe
            if job_id in self._jobs and not self._jobs[job_id].subs
        ]
        for job_id in gone:
            del self._jobs[job_id]
        new = [job_id for job_id in self._to_subscribe if job_id in self._jobs]
        self._to_subscribe.clear()
        self._to_unsubscribe.clear()
        return gone, new

    def dispatch(self, raw: str) -> None:
        """Route one text message of the connection to its job's subscriptions."""
        try:
            message = json.loads(raw)
        except ValueError:
            log.debug("WebSocket %s: ignoring a message that is not JSON", self._url)
            return
        if not isinstance(message, dict):
            return
        kind = message.pop("type", None)
        state = self._jobs.get(str(message.get("job_id")))
        if state is None:
            if kind == "error":
                log.debug("WebSocket %s: %s", self._url, message.get("detail"))
            return
        if kind == "job" and isinstance(message.get("version"), int):
            job = cast(Job, message)
            latest = state.latest
            if latest is None or job["version"] > latest["version"]:
                state.latest = job
            elif job["status"] in FINAL_STATUSES:
                state.latest = job
            for sub in list(state.subs):
                sub.offer(job)
        elif kind == "error":
            self._job_error(message["job_id"], state, message)

    def _job_error(
        self, job_id: str, state: _JobState, message: dict[str, Any]
    ) -> None:
        code = str(message.get("code", "error"))
        detail = str(message.get("detail", "the server could not watch this job"))
        status = _STATUS_BY_CODE.get(code)
        state.errors += 1
        if status is None and state.errors <= self._max_retries:
            # A backend hiccup (the store unavailable, say): subscribe again later.
            delay = backoff_delay(state.errors - 1, self._retry_delay)
            asyncio.get_running_loop().call_later(delay, self._resubscribe, job_id)
            return
        cls: type[APIError] = ServiceUnavailableError
        if status is not None:
            cls = error_class(status, code)
        title = HTTPStatus(status or 503).phrase
        del self._jobs[job_id]
        for sub in state.subs:
            sub.end(cls(status or 503, title, detail, f"/problems/{code}"))

    def _resubscribe(self, job_id: str) -> None:
        state = self._jobs.get(job_id)
        if state is not None and state.subs:
            self._to_subscribe.add(job_id)
            self._wake.set()

    def end_all(self, make: Callable[[], TranslationClientError | Fallback]) -> None:
        """End every subscription, each with its own `make()` (exceptions raised in
        several tasks must not share one traceback)."""
        jobs, self._jobs = self._jobs, {}
        for state in jobs.values():
            for sub in state.subs:
                sub.end(make())
