"""SyncTranslationClient: the same API for code without an event loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import (
    AsyncIterator,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from types import TracebackType
from typing import Any, TypeVar

from translation_client._client import (
    DEFAULT_HEARTBEAT,
    DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_DELAY,
    DEFAULT_TIMEOUT,
    DEFAULT_URL,
    TranslationClient,
)
from translation_client._errors import TransportError
from translation_client._events import StreamEvent
from translation_client._models import CreatedJob, Job

T = TypeVar("T")


class SyncTranslationClient:
    """A blocking facade over TranslationClient: `with SyncTranslationClient(url) as c:`.

    It runs a private event loop in a daemon thread, so it works anywhere, even
    inside a program that runs its own loop in another thread. Options, methods,
    results and errors are those of TranslationClient; `watch` and `list_jobs`
    return ordinary iterators. Call `close()` (or leave the `with` block) when done.
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
        self._client = TranslationClient(
            base_url,
            max_retries,
            retry_delay,
            timeout,
            heartbeat_interval,
            api_key=api_key,
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="vts-client-loop", daemon=True
        )
        self._thread.start()

    @property
    def base_url(self) -> str:
        return self._client.base_url

    def __repr__(self) -> str:
        return f"<SyncTranslationClient {self.base_url!r}>"

    def __enter__(self) -> SyncTranslationClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the background loop; idempotent."""
        if self._loop.is_closed():
            return
        try:
            self._run(self._client.close())
            self._run(self._loop.shutdown_asyncgens())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def start_translation(
        self,
        source_language: str,
        target_language: str,
        metadata: Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        tenant: str | None = None,
    ) -> CreatedJob:
        """See TranslationClient.start_translation."""
        return self._run(
            self._client.start_translation(
                source_language,
                target_language,
                metadata,
                idempotency_key=idempotency_key,
                tenant=tenant,
            )
        )

    def get_job(self, job_id: str) -> Job:
        return self._run(self._client.get_job(job_id))

    def list_jobs(
        self, status: str | None = None, page_size: int = 100
    ) -> Iterator[Job]:
        return self._iterate(self._client.list_jobs(status, page_size))

    def cancel(self, job_id: str) -> Job:
        return self._run(self._client.cancel(job_id))

    def list_dead_letters(self, limit: int = 100) -> list[Job]:
        return self._run(self._client.list_dead_letters(limit))

    def replay(self, job_id: str) -> Job:
        return self._run(self._client.replay(job_id))

    def watch(self, job_id: str) -> Iterator[Job]:
        """See TranslationClient.watch; a blocking iterator."""
        return self._iterate(self._client.watch(job_id))

    def events(
        self,
        job_ids: Iterable[str] | None = None,
        last_event_id: str | int | None = None,
    ) -> Iterator[StreamEvent]:
        """See TranslationClient.events; a blocking iterator."""
        return self._iterate(self._client.events(job_ids, last_event_id))

    def wait_for_completion(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """See TranslationClient.wait_for_completion; `on_update` runs on the
        client's background thread."""
        return self._run(
            self._client.wait_for_completion(job_id, timeout, on_update=on_update)
        )

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop.is_closed():
            coro.close()
            raise TransportError("the client is closed")
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C while blocked here: stop the coroutine too.
            future.cancel()
            raise

    def _iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        async def step() -> list[T]:
            try:
                return [await anext(iterator)]
            except StopAsyncIteration:
                return []

        async def close() -> None:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while True:
                items = self._run(step())
                if not items:
                    return
                yield items[0]
        finally:
            if not self._loop.is_closed():
                self._run(close())
