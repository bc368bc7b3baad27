"""Slow and greedy clients: request deadlines, a connection cap, problem+json for
requests aiohttp cannot parse. `VtsRunner` wires it for `vts serve` and for tests.

aiohttp bounds idle keep-alive connections, but gives a request no deadline and has
no connection cap: half-sent requests could hold every file descriptor. So:
- headers: from a connection's start, or from the first byte after an answer, they
  must arrive within VTS_REQUEST_TIMEOUT, else the connection is closed;
- body: then it must arrive within VTS_REQUEST_TIMEOUT, else the handler's read
  fails with BodyTimeoutError (answered 408) and the connection closes;
- a request being handled (a WebSocket for its whole life) has no deadline;
- past VTS_MAX_CONNECTIONS a new connection evicts the one that has waited longest
  for its next request (idle, or still sending headers); if all are busy, it is
  answered 503 problem+json and closed.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from typing import Any

from aiohttp import web

from vts.api.problems import CONTENT_TYPE, Handler, problem_body
from vts.api.protocol import GuardedRequestHandler
from vts.config import Settings
from vts.keys import metrics_key, settings_key
from vts.metrics import Metrics

log = logging.getLogger(__name__)

CAP_WARNING_INTERVAL = 60.0
# web.Server's own parameters; the rest of its kwargs are RequestHandler's.
_SERVER_PARAMETERS = frozenset(inspect.signature(web.Server.__init__).parameters)


def _rejection(max_connections: int) -> bytes:
    body = problem_body(
        503,
        "too-many-connections",
        f"the server has {max_connections} open connections "
        "(VTS_MAX_CONNECTIONS): try again shortly",
        "/",
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class VtsRunner(web.AppRunner):
    """An AppRunner whose server enforces the app's VTS_REQUEST_TIMEOUT and
    VTS_MAX_CONNECTIONS and answers unparseable requests with problem+json."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        # The app built its Server (routing, access log, handler_args); keep all of
        # that and swap in the guarded protocol. _kwargs: RequestHandler's options.
        return VtsServer(
            server.request_handler,
            settings=self.app[settings_key],
            metrics=self.app[metrics_key],
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **server._kwargs,
        )


class VtsServer(web.Server):
    """aiohttp's Server, making GuardedRequestHandler protocols and counting them."""

    def __init__(
        self,
        handler: Handler,
        *,
        settings: Settings,
        metrics: Metrics,
        loop: asyncio.AbstractEventLoop | None = None,
        **kwargs: Any,
    ) -> None:
        self._app_handler = handler
        super().__init__(self._handle, loop=loop, **kwargs)
        self._protocol_loop = loop or asyncio.get_running_loop()
        self._protocol_kwargs = {
            name: value
            for name, value in kwargs.items()
            if name not in _SERVER_PARAMETERS
        }
        self._protocol_kwargs["keepalive_timeout"] = settings.keepalive_timeout
        self.settings = settings
        self.metrics = metrics
        self.rejection = _rejection(settings.max_connections)
        self.open_connections = 0
        # Connections waiting for their next request, longest waiting first.
        self._waiting: collections.OrderedDict[GuardedRequestHandler, None] = (
            collections.OrderedDict()
        )
        self._warned_at = -CAP_WARNING_INTERVAL
        metrics.http_connections.set_function(lambda: self.open_connections)

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(
            self, loop=self._protocol_loop, **self._protocol_kwargs
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        protocol = request.protocol
        guarded = protocol if isinstance(protocol, GuardedRequestHandler) else None
        if guarded is not None:
            guarded.request_started(request)
        try:
            response = await self._app_handler(request)  # type: ignore[arg-type]
        finally:
            if guarded is not None:
                guarded.request_done()
        if self.settings.keepalive_timeout == 0:
            response.force_close()  # "Connection: close" on every answer
        return response

    def admit(self) -> bool:
        """Whether a new connection may open, evicting the longest waiting one
        when the cap is reached."""
        if self.open_connections < self.settings.max_connections:
            return True
        if self._waiting:
            oldest, _ = self._waiting.popitem(last=False)
            self.metrics.http_connections_dropped.labels("evicted").inc()
            oldest.force_close()
            return True
        self.metrics.http_connections_dropped.labels("over_limit").inc()
        now = time.monotonic()
        if now - self._warned_at >= CAP_WARNING_INTERVAL:
            self._warned_at = now
            log.warning(
                "%d connections open, all busy (VTS_MAX_CONNECTIONS): "
                "answering new ones 503",
                self.open_connections,
            )
        return False

    def waiting(self, connection: GuardedRequestHandler) -> None:
        """`connection` waits for its next request: the last to be evicted."""
        self._waiting[connection] = None
        self._waiting.move_to_end(connection)

    def busy(self, connection: GuardedRequestHandler) -> None:
        """`connection` has a request in hand (or is gone): never evicted."""
        self._waiting.pop(connection, None)
