"""Every web.AppKey: the app's state, typed."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

from vts.config import Settings
from vts.events.hub import EventHub
from vts.events.streams import EventStreams
from vts.keycache import Authenticator
from vts.metrics import Metrics
from vts.ports import Broker, JobStore, Processor
from vts.quotas import Quotas
from vts.service import JobService

settings_key = web.AppKey("settings", Settings)
metrics_key = web.AppKey("metrics", Metrics)
hub_key = web.AppKey("hub", EventHub)
store_key = web.AppKey("store", JobStore)
broker_key = web.AppKey("broker", Broker)
processor_key = web.AppKey("processor", Processor)
service_key = web.AppKey("service", JobService)
websockets_key: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey(
    "websockets"
)
authenticator_key = web.AppKey("authenticator", Authenticator)
quotas_key = web.AppKey("quotas", Quotas)
webhook_wake_key: web.AppKey[Callable[[], None]] = web.AppKey("webhook_wake")
"""Wakes this process's webhook dispatcher and sender (after an endpoint was made or
a delivery retried here)."""
auth_off_key = web.AppKey("auth_off", bool)
"""VTS_AUTH resolved once by create_app: True when it is `none` (Settings.auth_mode
parses VTS_HOST as an address each time it is read)."""
event_streams_key = web.AppKey("event_streams", EventStreams)


class Drainable(Protocol):
    """The worker pool as the app's shutdown sees it."""

    async def drain(self, grace: float) -> None: ...


worker_pool_key = web.AppKey("worker_pool", Drainable)
