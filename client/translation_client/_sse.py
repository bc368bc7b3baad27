"""A text/event-stream parser, as the WHATWG HTML standard's "Server-sent events"
section parses one (9.2.6): fed bytes in any pieces, it returns whole events."""

from __future__ import annotations

from dataclasses import dataclass

_BOM = "\ufeff"


@dataclass(frozen=True)
class ServerSentEvent:
    """One dispatched event: its type (`message` unless named), its data (lines
    joined by newlines), and the last event id as it stood when it was dispatched."""

    event: str
    data: str
    id: str


class SseParser:
    """Incremental: `feed(bytes)` returns the events completed by those bytes.

    Lines end with CRLF, LF or CR; `:` starts a comment (ignored); unknown fields
    are ignored; `id` containing NUL is ignored; `retry` must be all digits. An
    event without data is not dispatched, but its `id` still sets `last_id`.
    """

    def __init__(self) -> None:
        self._buffer = ""
        self._pending_cr = False
        self._bytes = b""
        self._started = False
        self._data: list[str] = []
        self._event = ""
        self._id_buffer = ""
        self.last_id = ""
        """The last event id seen (`Last-Event-ID` of a reconnection)."""
        self.retry: int | None = None
        """The reconnection time the server asked for, in milliseconds, if any."""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        text = self._decode(chunk)
        if not self._started and text:
            text = text.removeprefix(_BOM)
            self._started = True
        events: list[ServerSentEvent] = []
        if self._pending_cr and text.startswith("\n"):
            text = text[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = False
        self._buffer += text
        while True:
            cut = _line_end(self._buffer)
            if cut is None:
                break
            at, width = cut
            line = self._buffer[:at]
            if width == 1 and self._buffer[at] == "\r" and at + 1 == len(self._buffer):
                self._pending_cr = True  # maybe a CRLF whose LF is still to come
            self._buffer = self._buffer[at + width :]
            event = self._line(line)
            if event is not None:
                events.append(event)
        return events

    def _decode(self, chunk: bytes) -> str:
        # UTF-8, keeping a character split across chunks for the next one.
        data = self._bytes + chunk
        for keep in range(min(3, len(data)) + 1):
            try:
                text = data[: len(data) - keep].decode("utf-8")
            except UnicodeDecodeError:
                continue
            self._bytes = data[len(data) - keep :]
            return text
        self._bytes = b""
        return data.decode("utf-8", errors="replace")

    def _line(self, line: str) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id_buffer = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self.retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        self.last_id = self._id_buffer
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self.last_id)


def _line_end(buffer: str) -> tuple[int, int] | None:
    """Where the first line ends and how wide its end is; None if no whole line."""
    cr, lf = buffer.find("\r"), buffer.find("\n")
    if cr == -1 and lf == -1:
        return None
    if cr == -1 or (lf != -1 and lf < cr):
        return lf, 1
    if cr + 1 < len(buffer) and buffer[cr + 1] == "\n":
        return cr, 2
    return cr, 1
