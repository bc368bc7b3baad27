"""Reads of the event log shared by a process's GET /events streams: the streams
of one tenant (or the admins' view of all) woken by the same change, at the same
cursor, make one store read between them, not one each, and encode its page once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from functools import partial
from typing import Protocol

from vts.snapshot import Snapshot

Page = list[tuple[int, Snapshot]]
Encode = Callable[[Page], list[bytes]]
"""A page as the bytes a stream writes."""
Shared = tuple[Page, list[bytes]]
# (tenant, after, job ids, limit): the arguments of the read itself.
_Key = tuple[str | None, int, tuple[str, ...] | None, int]


class EventLog(Protocol):
    """Where the log is read from (the service)."""

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> Page: ...


class SharedLogReads:
    """One `events_after` for every stream that asks the same question before it
    starts (a singleflight keyed by tenant, cursor, job ids and page size).

    A read is a task, so it starts on the loop turn after the first stream asks:
    the hub wakes every stream of a change in one call, so they all run, and join,
    before it starts. A stream joins only a read whose query has not been sent:
    as when it read alone, every change announced before it asked (so committed
    before it) is in the result, and a change announced later wakes it to read
    again. A stream that asks once the read is under way starts the next one.

    A stream that follows some jobs (`?job_id=`) shares only with streams that
    follow the same ones: the hub wakes it for those jobs alone, so it does not
    multiply the reads of a change, and its own query keeps its pages exact.

    Nothing is kept: a read leaves the table when it starts, and its page lives
    only as long as the streams that awaited it hold it.
    """

    def __init__(self) -> None:
        self._gathering: dict[_Key, asyncio.Task[Shared]] = {}
        self._running: set[asyncio.Task[Shared]] = set()

    def __len__(self) -> int:
        """Reads gathering or under way."""
        return len(self._running)

    async def events_after(
        self,
        log: EventLog,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
        encode: Encode,
    ) -> Shared:
        """`log.events_after(tenant, after, job_ids, limit)` and its page as
        `encode`d, shared: the same lists for every stream that joined, which none
        may change. Raises what the read raises (StoreUnavailableError)."""
        key = (tenant, after, None if job_ids is None else tuple(job_ids), limit)
        read = self._gathering.get(key)
        if read is None:
            read = asyncio.create_task(self._read(log, key, encode))
            self._gathering[key] = read
            self._running.add(read)
            read.add_done_callback(partial(self._done, key))
        # A stream cancelled meanwhile leaves the read to the others.
        return await asyncio.shield(read)

    async def _read(self, log: EventLog, key: _Key, encode: Encode) -> Shared:
        del self._gathering[key]  # from here on, a stream asking starts another
        tenant, after, job_ids, limit = key
        page = await log.events_after(tenant, after, job_ids, limit)
        return page, encode(page)

    def _done(self, key: _Key, read: asyncio.Task[Shared]) -> None:
        self._running.discard(read)
        if self._gathering.get(key) is read:  # cancelled before it started
            del self._gathering[key]
        if not read.cancelled():
            read.exception()  # the streams that joined raise it; none may be left
