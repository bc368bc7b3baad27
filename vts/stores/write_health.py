"""Whether a store can write, not only answer: readiness must drop on a full disk.

A write that fails because the store cannot write (disk full, read-only) marks the
store until a job is created again, or a probe (a job-sized row written and deleted
in one transaction) succeeds: updates may still fit in pages the database already
has while new jobs do not. A store on a local disk also says whether that disk
has room again; until it has, its writes fail at once instead of each running into
the full disk (and a small one slipping through now and then would make readiness
flap). An idle store is probed, at most once a second, when readiness asks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from vts.errors import StoreNotWritableError

log = logging.getLogger(__name__)

PROBE_INTERVAL = 1.0
"""Seconds between write probes while the store cannot write."""
PROBE_JOB_ID = "~write-probe"
PROBE_BODY = '{"probe": "' + "x" * 1000 + '"}'
"""A probe writes a row about the size of a job into the jobs table and deletes it in
the same transaction: where a new job would not fit, neither does the probe."""


def always_room() -> bool:
    """A store whose disk vts cannot see (a database server) is always tried."""
    return True


class WriteHealth:
    """The last not-writable failure of a store, until a write lands with room."""

    def __init__(
        self,
        probe: Callable[[], Awaitable[None]],
        has_room: Callable[[], bool] = always_room,
        *,
        interval: float = PROBE_INTERVAL,
    ) -> None:
        self._probe = probe
        self._has_room = has_room
        self._interval = interval
        self._probed_at = -interval
        self._lock = asyncio.Lock()
        self.failure: StoreNotWritableError | None = None

    def failed(self, exc: StoreNotWritableError) -> None:
        """A write failed because the store cannot write."""
        if self.failure is None:
            log.warning("the job store cannot write: %s", exc)
        self.failure = exc

    def wrote(self) -> None:
        """A job (or a probe) was written: the store writes again, if its disk has
        room."""
        if self.failure is not None and self._has_room():
            log.info("the job store writes again (was: %s)", self.failure)
            self.failure = None

    def blocked(self) -> StoreNotWritableError | None:
        """The error to fail a write with at once: the store could not write and
        its disk has no room yet. None: try the write."""
        if self.failure is None or self._has_room():
            return None
        return StoreNotWritableError(self.failure.message)

    async def check(self) -> None:
        """Raise StoreNotWritableError while the store cannot write; probe it first
        if the last probe is old enough and its disk has room."""
        if self.failure is None:
            return
        async with self._lock:
            now = time.monotonic()
            if (
                self.failure is not None
                and now - self._probed_at >= self._interval
                and self._has_room()
            ):
                self._probed_at = now
                try:
                    await self._probe()
                except StoreNotWritableError as exc:
                    self.failure = exc
                else:
                    self.wrote()
        failure = self.failure
        if failure is not None:
            raise StoreNotWritableError(failure.message)
