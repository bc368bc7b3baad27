"""A watcher's outbox: what one loop turn pushed, deduplicated, in one socket write."""

from __future__ import annotations

import asyncio
import struct

from aiohttp import web

from vts.snapshot import Snapshot

MAX_BUFFERED_BYTES = 4 * 1024 * 1024
"""Bytes a watcher may leave unread in the server's send buffer (beyond what the
kernel holds) before it is closed as too far behind: it resyncs from a fresh
snapshot on reconnect, and a stalled client cannot grow the server's memory."""
MAX_SEEN_VERSIONS = 20_000
"""Jobs whose last version a watcher remembers (newest first kept): an `all=true`
watcher would otherwise remember every job it was ever sent. A duplicate can only
trail its original by moments, so forgetting the longest-quiet jobs loses nothing."""
CLOSE_TRY_AGAIN_LATER = 1013
_TEXT = 0x81  # FIN and the text opcode: every message is one unfragmented frame


def text_frame(payload: bytes) -> bytes:
    """An unmasked WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    size = len(payload)
    if size < 126:
        return bytes((_TEXT, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", _TEXT, 126, size) + payload
    return struct.pack("!BBQ", _TEXT, 127, size) + payload


class WatcherSink:
    """One connection's outbox. Messages pushed during a loop turn are written at its
    end with one `transport.write` (one system call for a whole group commit's
    events, not one per message), versions already sent are dropped, and no task
    exists per watcher: an idle watcher costs no task and a busy one a callback.

    aiohttp's own frames (pings, pongs, the close) go through its writer; both only
    ever write whole frames, so they interleave safely.
    """

    __slots__ = (
        "_closing",
        "_loop",
        "_pending",
        "_scheduled",
        "_seen",
        "_transport",
        "closed",
        "tenant",
        "watching",
        "ws",
    )

    def __init__(
        self, ws: web.WebSocketResponse, request: web.Request, tenant: str | None
    ) -> None:
        self.ws = ws
        self._transport = request.transport
        self.tenant = tenant
        """The tenant whose jobs this watcher may see; None: every tenant."""
        self._closing: asyncio.Task[bool] | None = None
        self._loop = asyncio.get_running_loop()
        self._pending: list[tuple[str | None, int, bytes]] = []
        self._scheduled = False
        self._seen: dict[str, int] = {}
        self.closed = False
        self.watching: set[str] = set()

    def push(self, snapshot: Snapshot, message: bytes) -> None:
        """Queue a job message; versions this watcher has already been sent are dropped."""
        if self.closed or self._seen.get(snapshot.job_id, 0) >= snapshot.version:
            return
        self._pending.append((snapshot.job_id, snapshot.version, message))
        self._schedule()

    def push_control(self, message: bytes) -> None:
        if not self.closed:
            self._pending.append((None, 0, message))
            self._schedule()

    def forget(self, job_id: str) -> None:
        self._seen.pop(job_id, None)
        self.watching.discard(job_id)

    def _schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        pending, self._pending = self._pending, []
        transport = self._transport
        if self.closed or self.ws.closed or transport is None or transport.is_closing():
            self.closed = True
            return
        seen = self._seen
        frames = []
        for job_id, version, message in pending:
            if job_id is not None:
                last = seen.pop(job_id, 0)
                if last >= version:
                    seen[job_id] = last
                    continue
                seen[job_id] = version  # re-inserted: newest last
                if len(seen) > MAX_SEEN_VERSIONS:
                    del seen[next(iter(seen))]
            frames.append(text_frame(message))
        if not frames:
            return
        transport.write(b"".join(frames))
        if transport.get_write_buffer_size() > MAX_BUFFERED_BYTES:
            self.closed = True
            # The peer is not reading: the close frame waits behind what it has
            # not read, and aiohttp drops the connection when its close times out.
            self._closing = self._loop.create_task(
                self.ws.close(code=CLOSE_TRY_AGAIN_LATER, message=b"too far behind")
            )

    def close(self) -> None:
        self.closed = True
        self._pending.clear()
