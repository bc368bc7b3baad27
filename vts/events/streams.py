"""The open GET /events streams of a process: their wake-ups, their shared reads of
the log, one shared heartbeat timer, and their end at shutdown."""

from __future__ import annotations

import asyncio

from vts.events.log_reads import SharedLogReads
from vts.snapshot import Snapshot

HEARTBEAT_SECONDS = 15.0
"""How often every open stream gets a `: ping` comment."""


class StreamSink:
    """One stream's wake-up call. The hub pushes a change of a job the stream may
    see; the sink only sets a flag, and the stream task then reads the log after
    the last seq it sent: one read per wake-up, however many events woke it, and
    shared with the streams woken with it (SharedLogReads). A heartbeat wakes it
    to write a comment, without reading.
    """

    __slots__ = ("changed", "deadline", "ping", "stopping", "tenant", "wake")

    def __init__(self, tenant: str | None) -> None:
        self.tenant = tenant
        """The tenant whose jobs the stream may see; None: every tenant."""
        self.wake = asyncio.Event()
        self.changed = False
        """The log may hold events the stream has not read."""
        self.ping = False
        self.stopping = False
        self.deadline: asyncio.Timeout | None = None
        """The bound of the write in progress, if one is: shutdown cuts it short."""

    def push(self, snapshot: Snapshot, message: bytes) -> None:
        self.changed = True
        self.wake.set()

    def stop(self) -> None:
        """End the stream: at once, also in the middle of a write to a client that
        does not read."""
        self.stopping = True
        self.wake.set()
        if self.deadline is not None:
            self.deadline.reschedule(asyncio.get_running_loop().time())


class EventStreams:
    """Every open stream of the app. One timer, not one per stream, marks them all
    for a heartbeat every `heartbeat` seconds, and only while any is open; `reads`
    is where they read the log."""

    def __init__(self, heartbeat: float = HEARTBEAT_SECONDS) -> None:
        self.heartbeat = heartbeat
        self.reads = SharedLogReads()
        self._open: set[StreamSink] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._closing = False

    def __len__(self) -> int:
        return len(self._open)

    def add(self, sink: StreamSink) -> None:
        if self._closing:
            sink.stop()
        self._open.add(sink)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(
                self.heartbeat, self._tick
            )

    def discard(self, sink: StreamSink) -> None:
        self._open.discard(sink)
        if not self._open and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        for sink in self._open:
            sink.ping = True
            sink.wake.set()
        self._timer = asyncio.get_running_loop().call_later(self.heartbeat, self._tick)

    async def wake_all(self) -> None:
        """Every stream re-reads the log: events of other replicas may have been
        missed while the relay was down (a gap listener of the service)."""
        for sink in self._open:
            sink.changed = True
            sink.wake.set()

    def close(self) -> None:
        """Server shutdown: end every stream (clients resume elsewhere)."""
        self._closing = True
        for sink in list(self._open):
            sink.stop()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
