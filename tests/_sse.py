"""Reading a text/event-stream in tests, line by line as the SSE spec parses it
(kept apart from the client's parser, which it checks)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import attrs
import orjson


@attrs.frozen
class Event:
    id: str | None
    event: str
    data: str

    @property
    def seq(self) -> int:
        assert self.id is not None
        return int(self.id)

    def json(self) -> Any:
        return orjson.loads(self.data)


class EventReader:
    """The events (and comments) of one response, read with a bound on each wait."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.comments: list[str] = []

    async def next(self, timeout: float = 10.0) -> Event | None:
        """The next event; None at the end of the stream."""
        fields: dict[str, list[str]] = {}
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.response.content.readline()
                if not raw:
                    return None
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "data" in fields:
                        last_id = fields.get("id", [None])[-1]
                        kind = fields.get("event", ["message"])[-1]
                        return Event(last_id, kind, "\n".join(fields["data"]))
                    fields.clear()
                    continue
                if line.startswith(":"):
                    self.comments.append(line[1:].strip())
                    continue
                name, _, value = line.partition(":")
                fields.setdefault(name, []).append(value.removeprefix(" "))

    async def until(self, predicate: Any, timeout: float = 10.0) -> list[Event]:
        """Events up to and including the first that `predicate` accepts."""
        events: list[Event] = []
        async with asyncio.timeout(timeout):
            while True:
                event = await self.next(timeout)
                assert event is not None, f"the stream ended after {events}"
                events.append(event)
                if predicate(event):
                    return events
