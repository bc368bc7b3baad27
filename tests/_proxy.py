"""TcpProxy: a small asyncio TCP proxy a test can cut, freeze, or make refuse WebSockets."""

from __future__ import annotations

import asyncio
import contextlib
import re

UPGRADE_HEADER = re.compile(rb"^upgrade\s*:", re.I | re.M)
CONNECTION_HEADER = re.compile(rb"^connection\s*:[^\r\n]*\r\n", re.I | re.M)
CONTENT_LENGTH = re.compile(rb"^content-length\s*:\s*(\d+)", re.I | re.M)
REFUSAL = (
    b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 24\r\n"
    b"Connection: close\r\n\r\nWebSockets not allowed.\n"
)
CHUNK = 64 * 1024


class _Link:
    """One proxied connection: the client's side, the upstream side, their pipes."""

    def __init__(
        self, client: asyncio.StreamWriter, upstream: asyncio.StreamWriter
    ) -> None:
        self.client = client
        self.upstream = upstream
        self.frozen = False

    def abort(self) -> None:
        self.client.transport.abort()
        self.upstream.transport.abort()


class TcpProxy:
    """Forwards every connection to 127.0.0.1:`target_port`, byte for byte.

    - `cut()` aborts every open connection (both sides see a reset), as a crashed
      load balancer or a network blip would; new connections go through again.
    - `freeze()` makes every open connection silently drop what it carries, as a
      half-open connection does: only heartbeats can notice.
    - With `refuse_upgrades`, every request carrying an `Upgrade` header (a WebSocket
      handshake) is answered 403, like a proxy that does not speak WebSocket; other
      requests are forwarded with `Connection: close`, so each connection carries
      exactly one request and every request is inspected.
    - `drop_answers = n`: the next n connections each carry one request to the
      server, which answers it, but the answer is kept from the client (in
      `dropped`) and its connection reset, as when a load balancer fails between
      the two: the request was done, the client cannot know.
    `connections` counts accepted connections, `upgrades` the handshakes seen.
    """

    def __init__(self, target_port: int, *, refuse_upgrades: bool = False) -> None:
        self.target_port = target_port
        self.refuse_upgrades = refuse_upgrades
        self.connections = 0
        self.upgrades = 0
        self.drop_answers = 0
        self.dropped: list[bytes] = []
        self.port = 0
        self._links: set[_Link] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def cut(self) -> int:
        """Abort every open connection; how many there were."""
        links = list(self._links)
        for link in links:
            link.abort()
        return len(links)

    def freeze(self) -> int:
        """Stop forwarding on every open connection, without closing it."""
        for link in self._links:
            link.frozen = True
        return len(self._links)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def __aenter__(self) -> TcpProxy:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def _accept(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.connections += 1
        task = asyncio.create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        upstream: asyncio.StreamWriter | None = None
        if self.drop_answers > 0:
            self.drop_answers -= 1
            await self._drop_answer(reader, writer)
            return
        try:
            head = b""
            if self.refuse_upgrades:
                head = await reader.readuntil(b"\r\n\r\n")
                if UPGRADE_HEADER.search(head):
                    self.upgrades += 1
                    writer.write(REFUSAL)
                    await writer.drain()
                    return
                head = CONNECTION_HEADER.sub(b"", head)
                head = head[:-2] + b"Connection: close\r\n\r\n"
            up_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
            link = _Link(writer, upstream)
            self._links.add(link)
            try:
                upstream.write(head)
                await asyncio.gather(
                    self._pipe(reader, upstream, link, count=True),
                    self._pipe(up_reader, writer, link),
                )
            finally:
                self._links.discard(link)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            for side in (writer, upstream):
                if side is not None:
                    side.close()
                    with contextlib.suppress(OSError):
                        await side.wait_closed()

    async def _drop_answer(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        """Forward one request, read the whole answer, reset the client instead."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length[1]) if length else 0)
            head = CONNECTION_HEADER.sub(b"", head)
            head = head[:-2] + b"Connection: close\r\n\r\n"
            up_reader, upstream = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
            upstream.write(head + body)
            self.dropped.append(await up_reader.read())  # until vts closes
            upstream.close()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        sink: asyncio.StreamWriter,
        link: _Link,
        *,
        count: bool = False,
    ) -> None:
        try:
            while data := await source.read(CHUNK):
                if count and UPGRADE_HEADER.search(data):
                    self.upgrades += 1
                if link.frozen:
                    continue  # swallowed, like a dead network path
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            # Either side ending ends the link: HTTP clients never half-close.
            if link.frozen:
                link.abort()
            else:
                sink.close()
