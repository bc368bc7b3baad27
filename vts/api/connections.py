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
from typing import Any, cast

from aiohttp import StreamReader, web
from aiohttp.http_exceptions import LineTooLong

from vts.api.problems import (
    CONTENT_TYPE,
    BodyTimeoutError,
    Handler,
    problem_body,
    problem_response,
)
from vts.config import Settings
from vts.keys import metrics_key, settings_key
from vts.metrics import Metrics

log = logging.getLogger(__name__)

# A refused client may still be sending its request: read and drop it this long
# before closing, so that the close does not reset the 503 away.
REJECT_LINGER_SECONDS = 1.0
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
        self._waiting[connection] = None
        self._waiting.move_to_end(connection)

    def busy(self, connection: GuardedRequestHandler) -> None:
        self._waiting.pop(connection, None)


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's HTTP/1.1 protocol with the deadlines and the cap of this module.

    RequestHandler uses __slots__; this subclass keeps its state in a __dict__
    under `_vts_` names, which cannot collide with aiohttp's.
    """

    def __init__(self, manager: VtsServer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._vts_server = manager
        self._vts_loop: asyncio.AbstractEventLoop = kwargs["loop"]
        self._vts_timeout = manager.settings.request_timeout
        self._vts_timer: asyncio.TimerHandle | None = None
        self._vts_payload: StreamReader | None = None
        self._vts_busy = False
        self._vts_refused: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        server = self._vts_server
        if not server.admit():
            self._refuse(cast(asyncio.Transport, transport))
            return
        super().connection_made(transport)
        server.open_connections += 1
        self._wait_for_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timer()
        if self._vts_refused is not None:
            self._vts_refused = None
            return
        self._vts_server.open_connections -= 1
        self._vts_server.busy(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._vts_refused is not None:
            return  # the rest of a refused request: dropped
        payload = self._vts_payload
        if (
            self._vts_timer is None
            and not self._vts_busy
            and (payload is None or payload.is_eof())
        ):
            self._wait_for_headers()  # the first bytes of the next request
        super().data_received(data)

    def eof_received(self) -> None:
        if self._vts_refused is not None:
            self._vts_refused.close()
            return
        super().eof_received()

    def request_started(self, request: web.BaseRequest) -> None:
        """The headers are in: stop their deadline, start the body's."""
        self._cancel_timer()
        self._vts_busy = True
        self._vts_server.busy(self)
        self._vts_payload = request.content
        if not request.content.is_eof():
            self._vts_timer = self._vts_loop.call_later(
                self._vts_timeout, self._body_expired
            )

    def request_done(self) -> None:
        """The handler returned (a WebSocket: closed): the connection may idle,
        for at most keepalive_timeout (aiohttp's own timer)."""
        self._vts_busy = False
        payload = self._vts_payload
        if payload is None or payload.is_eof():
            self._cancel_timer()
        self._vts_server.waiting(self)

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """A request aiohttp could not parse: the client's mistake, answered with
        problem+json and logged at debug, without a traceback."""
        if status >= 500:
            return super().handle_error(request, status, exc, message)
        reason = (message or str(exc) or "?").strip().splitlines()[0].rstrip(":")
        log.debug("unparseable request from %s: %s", request.remote, reason)
        if request.writer.output_size > 0:  # as aiohttp: too late for an answer
            raise ConnectionError("cannot answer: a response was already sent")
        if isinstance(exc, LineTooLong):
            status, code = 431, "request-header-fields-too-large"
            detail = "the request line or a header field is longer than 8190 bytes"
        else:
            code = "bad-request"
            detail = f"the request is not valid HTTP/1.1: {reason[:160]}"
        self._vts_server.metrics.observe_request("OTHER", "unmatched", status, 0.0)
        response = problem_response(status, code, detail, "/")
        response.force_close()
        return response

    def _wait_for_headers(self) -> None:
        self._cancel_timer()
        self._vts_timer = self._vts_loop.call_later(
            self._vts_timeout, self._headers_expired
        )
        self._vts_server.waiting(self)

    def _headers_expired(self) -> None:
        self._vts_timer = None
        if self._vts_busy:
            return  # pipelined bytes behind a request still being handled
        self._vts_server.metrics.http_connections_dropped.labels(
            "request_timeout"
        ).inc()
        log.debug("closing a connection: no request headers in time")
        self.force_close()

    def _body_expired(self) -> None:
        self._vts_timer = None
        payload = self._vts_payload
        if payload is not None and not payload.is_eof():
            # Wakes the handler's read (answered 408), or ends aiohttp's draining.
            payload.set_exception(BodyTimeoutError(self._vts_timeout))

    def _cancel_timer(self) -> None:
        if self._vts_timer is not None:
            self._vts_timer.cancel()
            self._vts_timer = None

    def _refuse(self, transport: asyncio.Transport) -> None:
        self._vts_refused = transport
        transport.write(self._vts_server.rejection)
        if transport.can_write_eof():
            transport.write_eof()
        self._vts_timer = self._vts_loop.call_later(
            REJECT_LINGER_SECONDS, transport.close
        )
