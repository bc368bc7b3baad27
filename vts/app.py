"""create_app: wires settings, plugins, the service, the worker pool and the routes."""

from __future__ import annotations

import logging
import uuid
import weakref
from collections.abc import AsyncIterator

from aiohttp import WSCloseCode, web

from vts import registry
from vts.api.auth import auth_middleware
from vts.api.metrics import request_metrics_middleware
from vts.api.problems import problem_middleware
from vts.api.routes import setup_routes
from vts.api.validation import MAX_BODY_BYTES
from vts.config import Settings
from vts.errors import ConfigError, UnavailableError
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.events.streams import HEARTBEAT_SECONDS, EventStreams
from vts.keycache import Authenticator
from vts.keys import (
    auth_off_key,
    authenticator_key,
    broker_key,
    event_streams_key,
    hub_key,
    metrics_key,
    processor_key,
    quotas_key,
    service_key,
    settings_key,
    store_key,
    webhook_wake_key,
    websockets_key,
    worker_pool_key,
)
from vts.metrics import Metrics
from vts.ports import Broker, JobStore, KeyStore, Processor
from vts.quotas import Limits, Quotas
from vts.retention import RetentionSweeper
from vts.service import JobService, utcnow
from vts.webhooks.dispatcher import Dispatcher
from vts.webhooks.port import WebhookStore
from vts.webhooks.sender import Sender
from vts.worker.pool import WorkerPool

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    store: JobStore | None = None,
    broker: Broker | None = None,
    processor: Processor | None = None,
    workers: bool = True,
) -> web.Application:
    """The vts application. Ports not given are built from `settings` via the registry.

    With `workers=False` the process serves the API only and runs no jobs.
    """
    app = web.Application(
        middlewares=[request_metrics_middleware, problem_middleware, auth_middleware],
        client_max_size=MAX_BODY_BYTES,
        # aiohttp closes idle keep-alive connections itself; deadlines and the
        # connection cap need vts.api.connections.VtsRunner.
        handler_args={"keepalive_timeout": settings.keepalive_timeout},
    )
    app[settings_key] = settings
    app[auth_off_key] = settings.auth_mode == "none"
    app[metrics_key] = Metrics()
    app[hub_key] = EventHub()
    app[websockets_key] = weakref.WeakSet()
    app[event_streams_key] = EventStreams(HEARTBEAT_SECONDS)
    app[store_key] = store or registry.create_store(settings)
    app[broker_key] = broker or registry.create_broker(settings)
    app[processor_key] = processor or registry.create_processor(settings)
    # One context per resource: one that fails to open is not closed, and only
    # what opened before it is (aiohttp runs the cleanups of those that started).
    app.cleanup_ctx.append(_store_ctx)
    app.cleanup_ctx.append(_broker_ctx)
    app.cleanup_ctx.append(_processor_ctx)
    app.cleanup_ctx.append(_service_ctx)
    app.cleanup_ctx.append(_auth_ctx)
    if settings.retention > 0 or settings.event_retention > 0:
        app.cleanup_ctx.append(_retention_ctx)
    if isinstance(app[store_key], WebhookStore):
        app.cleanup_ctx.append(_webhooks_ctx)
    if workers:
        app.cleanup_ctx.append(_workers_ctx)
        app.on_shutdown.append(_drain_workers)
    app.on_shutdown.append(_close_websockets)
    app.on_shutdown.append(_close_event_streams)
    setup_routes(app)
    return app


async def _store_ctx(app: web.Application) -> AsyncIterator[None]:
    store = app[store_key]
    scheme = registry.scheme_of(app[settings_key].database_url)
    log.info("store %s (%s)", type(store).__name__, scheme)
    await store.open()
    try:
        await store.migrate()
        yield
    finally:
        await store.close()


async def _broker_ctx(app: web.Application) -> AsyncIterator[None]:
    broker = app[broker_key]
    scheme = registry.scheme_of(app[settings_key].redis_url)
    log.info("broker %s (%s)", type(broker).__name__, scheme)
    try:
        await broker.open()
    except UnavailableError as exc:
        # Derived state only: serve from the store until the broker is back.
        log.warning("broker unavailable at start-up, carrying on: %s", exc)
    try:
        yield
    finally:
        await broker.close()


async def _processor_ctx(app: web.Application) -> AsyncIterator[None]:
    processor = app[processor_key]
    log.info("processor %s", type(processor).__name__)
    await processor.open()
    try:
        yield
    finally:
        await processor.close()


async def _service_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    origin = uuid.uuid4().hex
    announcer = Announcer(app[hub_key], app[broker_key], app[metrics_key], origin)
    store = app[store_key]
    quotas = Quotas(
        store if isinstance(store, KeyStore) else None,
        Limits(settings.tenant_max_active_jobs, settings.tenant_requests_per_second),
        app[metrics_key],
    )
    app[quotas_key] = quotas
    service = JobService(
        app[store_key],
        app[broker_key],
        announcer,
        app[metrics_key],
        max_attempts=settings.max_attempts,
        max_lease_losses=settings.max_lease_losses,
        quotas=quotas,
    )
    app[service_key] = service
    # After a relay outage every event stream re-reads the log.
    service.on_gap(app[event_streams_key].wake_all)
    await announcer.start()
    try:
        await service.resync_dead_letters()
    except UnavailableError as exc:
        log.warning("could not resync the dead-letter queue: %s", exc)
    yield
    await announcer.stop()


NO_WAY_IN = (
    "VTS_AUTH=keys but nobody can authenticate: set VTS_ADMIN_KEY (a secret of at "
    "least 32 characters) or create a key with "
    "`vts keys create --tenant NAME --scope admin` (same VTS_DATABASE_URL)"
)


async def _auth_ctx(app: web.Application) -> AsyncIterator[None]:
    """The key cache and its last-use writer; with VTS_AUTH=keys, refuse to start
    when no request could ever authenticate."""
    settings = app[settings_key]
    store = app[store_key]
    keys = store if isinstance(store, KeyStore) else None
    authenticator = Authenticator(keys, settings.admin_key, app[metrics_key])
    app[authenticator_key] = authenticator
    if settings.auth_mode == "keys":
        if settings.admin_key is None and (
            keys is None or not await keys.has_usable_key(utcnow())
        ):
            raise ConfigError(NO_WAY_IN)
        log.info(
            "authentication: API keys%s",
            " and VTS_ADMIN_KEY" if settings.admin_key else "",
        )
    else:
        log.info(
            "authentication is off (VTS_AUTH=none): every request acts as an admin"
        )
    authenticator.start()
    yield
    await authenticator.stop()


async def _retention_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    sweeper = RetentionSweeper(
        app[service_key], settings.retention, settings.event_retention
    )
    await sweeper.start()
    yield
    await sweeper.stop()


async def _webhooks_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox's two loops: the dispatcher (log -> deliveries), woken by every
    job change, and the sender (deliveries -> receivers), woken by the dispatcher."""
    settings, store = app[settings_key], app[store_key]
    assert isinstance(store, WebhookStore)
    sender = Sender(
        store,
        app[metrics_key],
        timeout=settings.webhook_timeout,
        schedule=settings.webhook_retry_schedule,
        allow_private=settings.webhook_allow_private,
        retention=settings.event_retention,
    )
    dispatcher = Dispatcher(store, app[metrics_key], sender)

    def wake() -> None:
        dispatcher.endpoints_changed()
        sender.wake()

    app[webhook_wake_key] = wake
    app[service_key].subscribe(dispatcher.wake)
    await sender.start()
    await dispatcher.start()
    yield
    await dispatcher.stop()
    await sender.stop()


async def _workers_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[settings_key]
    pool = WorkerPool(
        app[service_key],
        app[processor_key],
        owner=f"vts-{uuid.uuid4().hex[:12]}",
        concurrency=settings.concurrency,
        lease_seconds=settings.lease_seconds,
        progress_interval=settings.progress_interval,
    )
    app[worker_pool_key] = pool
    await pool.start()
    yield
    await pool.drain(0)  # no-op after the shutdown drain; covers failed start-ups


async def _drain_workers(app: web.Application) -> None:
    await app[worker_pool_key].drain(app[settings_key].shutdown_grace)


async def _close_websockets(app: web.Application) -> None:
    sockets = app[websockets_key]
    for ws in list(sockets):
        await ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutting down")


async def _close_event_streams(app: web.Application) -> None:
    app[event_streams_key].close()
