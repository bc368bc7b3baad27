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
  admitted to a reserve of PROBE_CONNECTIONS more, which serve one probe or scrape
  (GET /healthz, /readyz, /metrics) and close: answering anything else there 503
  problem+json. Busy WebSockets must not fail the kubelet's liveness probe, or it
  would restart a healthy pod and drop every watcher. The reserve evicts its own
  longest waiting connection too; only when all of it is busy is a new connection
  answered 503 at once and closed.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import logging
import time
from typing import Any, cast

from aiohttp import web

from vts.api.problems import CONTENT_TYPE, Handler, problem_body, problem_response
from vts.api.protocol import GuardedRequestHandler
from vts.config import Settings
from vts.keys import metrics_key, settings_key
from vts.metrics import Metrics

log = logging.getLogger(__name__)

CAP_WARNING_INTERVAL = 60.0
# Connections above VTS_MAX_CONNECTIONS kept for probes and scrapes; each serves one.
PROBE_CONNECTIONS = 32
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
# Connections in the order they began waiting for their next request.
_Queue = collections.OrderedDict[GuardedRequestHandler, None]
# web.Server's own parameters; the rest of its kwargs are RequestHandler's.
_SERVER_PARAMETERS = frozenset(inspect.signature(web.Server.__init__).parameters)


def _too_many_detail(max_connections: int) -> str:
    return (
        f"the server has {max_connections} open connections "
        "(VTS_MAX_CONNECTIONS): try again shortly"
    )


def _rejection(max_connections: int) -> bytes:
    body = problem_body(
        503, "too-many-connections", _too_many_detail(max_connections), "/"
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
        # RequestHandler's options, keepalive_timeout among them (create_app's
        # handler_args): for the protocols __call__ makes.
        self._protocol_kwargs = {
            name: value
            for name, value in kwargs.items()
            if name not in _SERVER_PARAMETERS
        }
        self.settings = settings
        self.metrics = metrics
        self.rejection = _rejection(settings.max_connections)
        # Admitted connections: under the cap (False) and in the reserve (True).
        self._open: dict[bool, set[GuardedRequestHandler]] = {False: set(), True: set()}
        # Of those, the ones waiting for their next request, longest waiting first.
        self._waiting: dict[bool, _Queue] = {
            False: collections.OrderedDict(),
            True: collections.OrderedDict(),
        }
        self._limits = {False: settings.max_connections, True: PROBE_CONNECTIONS}
        self._warned_at = -CAP_WARNING_INTERVAL
        metrics.http_connections.set_function(lambda: self.open_connections)

    @property
    def open_connections(self) -> int:
        return len(self._open[False]) + len(self._open[True])

    def __call__(self) -> web.RequestHandler:
        return GuardedRequestHandler(
            self, loop=self._protocol_loop, **self._protocol_kwargs
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        # Every protocol of this server is one __call__ made.
        guarded = cast(GuardedRequestHandler, request.protocol)
        reserve = guarded in self._open[True]
        guarded.request_started(request)
        try:
            if reserve and not _is_probe(request):
                self.metrics.http_connections_dropped.labels("over_limit").inc()
                response: web.StreamResponse = problem_response(
                    503,
                    "too-many-connections",
                    _too_many_detail(self.settings.max_connections),
                    request.path,
                    headers={"Retry-After": "1"},
                )
            else:
                response = await self._app_handler(request)  # type: ignore[arg-type]
        finally:
            guarded.request_done()
        if reserve or self.settings.keepalive_timeout == 0:
            response.force_close()  # "Connection: close"
        return response

    def admit(self, connection: GuardedRequestHandler) -> bool:
        """Whether `connection` may open: under the cap, else in the reserve,
        evicting the longest waiting connection of a full one."""
        for reserve in (False, True):
            if len(self._open[reserve]) >= self._limits[reserve]:
                if not self._waiting[reserve]:
                    continue
                oldest, _ = self._waiting[reserve].popitem(last=False)
                self.metrics.http_connections_dropped.labels("evicted").inc()
                self.release(oldest)
                oldest.force_close()
            self._open[reserve].add(connection)
            if reserve:
                self._warn("answering new requests 503, probes and scrapes aside")
            return True
        self.metrics.http_connections_dropped.labels("over_limit").inc()
        self._warn("answering new ones 503")
        return False

    def release(self, connection: GuardedRequestHandler) -> None:
        """`connection` is gone, or evicted: its slot is free."""
        for reserve in (False, True):
            self._open[reserve].discard(connection)
            self._waiting[reserve].pop(connection, None)

    def waiting(self, connection: GuardedRequestHandler) -> None:
        """`connection` waits for its next request: the last to be evicted."""
        for reserve in (False, True):
            if connection in self._open[reserve]:
                self._waiting[reserve][connection] = None
                self._waiting[reserve].move_to_end(connection)

    def busy(self, connection: GuardedRequestHandler) -> None:
        """`connection` has a request in hand: never evicted."""
        for reserve in (False, True):
            self._waiting[reserve].pop(connection, None)

    def _warn(self, action: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= CAP_WARNING_INTERVAL:
            self._warned_at = now
            log.warning(
                "%d connections open, all busy (VTS_MAX_CONNECTIONS): %s",
                self.open_connections,
                action,
            )


def _is_probe(request: web.BaseRequest) -> bool:
    return request.method in ("GET", "HEAD") and request.path in PROBE_PATHS
