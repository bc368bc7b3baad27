"""One client connection under the deadlines and the cap of vts.api.connections,
and the problem+json answer to a request aiohttp cannot parse."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast

from aiohttp import StreamReader, web
from aiohttp.http_exceptions import InvalidHeader, LineTooLong

from vts.api.problems import BodyTimeoutError, problem_response

if TYPE_CHECKING:
    from vts.api.connections import VtsServer

log = logging.getLogger(__name__)

# A refused client may still be sending its request: read and drop it this long
# before closing, so that the close does not reset the 503 away.
REJECT_LINGER_SECONDS = 1.0


class GuardedRequestHandler(web.RequestHandler):
    """aiohttp's HTTP/1.1 protocol under the deadlines and the cap that
    vts.api.connections describes; created by VtsServer.

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
        if not server.admit(self):
            self._refuse(cast(asyncio.Transport, transport))
            return
        super().connection_made(transport)
        self._wait_for_headers()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_timer()
        if self._vts_refused is not None:
            self._vts_refused = None
            return
        self._vts_server.release(self)
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
        if isinstance(exc, InvalidHeader):
            # Its text quotes the header, perhaps an Authorization one: not repeated.
            reason = "invalid HTTP header"
        else:
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
