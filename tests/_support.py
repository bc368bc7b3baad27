"""Helpers shared by the test tiers: bounded waits, job factories."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import aiohttp

from vts import registry
from vts.config import Settings
from vts.config_fields import specs
from vts.domain import Job, new_job
from vts.events.announcer import Announcer
from vts.events.hub import EventHub
from vts.metrics import Metrics
from vts.ports import JobStore
from vts.processors.simulated_settings import SimulatedSettings
from vts.service import JobService

T0 = datetime(2026, 1, 1, tzinfo=UTC)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
"""A cut after every event: pruning up to it deletes all it may."""


async def wait_until(
    condition: Callable[[], bool | Awaitable[bool]],
    timeout: float = 10.0,
    interval: float = 0.01,
    message: str = "condition",
) -> None:
    """Poll `condition` until true; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not met within {timeout}s")
        await asyncio.sleep(interval)


async def answers_200(http: aiohttp.ClientSession, url: str) -> bool:
    """GET `url` answered 200 within 2 s; refused, failed or slow is False (a server
    still starting up)."""
    try:
        timeout = aiohttp.ClientTimeout(total=2)
        async with http.get(url, timeout=timeout) as response:
            return response.status == 200
    except (aiohttp.ClientError, TimeoutError):
        return False


def make_job(
    job_id: str = "00000000-0000-4000-8000-000000000001", **changes: object
) -> Job:
    """A pending job with plausible fields; `changes` are passed to attrs.evolve."""
    import attrs

    job = new_job(
        job_id,
        "en",
        "es",
        {"video_url": "https://example.com/video.mp4"},
        max_attempts=3,
        now=T0,
    )
    return attrs.evolve(job, **changes) if changes else job


def instant_settings(db_path: object, **changes: Any) -> Settings:
    """Zero-infrastructure settings: SQLite at `db_path`, fakeredis, jobs that take no
    time and never fail, no shutdown grace; `changes` override any field, the
    simulated processor's (`sim_*`) included."""
    simulated = {"sim_duration": "0", "sim_error_rate": 0.0}
    base: dict[str, Any] = {
        "database_url": f"sqlite:///{db_path}",
        "redis_url": "fakeredis://",
        "shutdown_grace": 0.0,
        # Every report written: tests check each progress message.
        "progress_interval": 0.0,
    }
    for name, value in changes.items():
        (simulated if name in specs(SimulatedSettings) else base)[name] = value
    return Settings(**base, processor_settings=SimulatedSettings(**simulated))


@asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[JobStore]:
    """The store `settings` name, built through the plugin registry, open and migrated."""
    store = registry.create_store(settings)
    await store.open()
    try:
        await store.migrate()
        yield store
    finally:
        await store.close()


@asynccontextmanager
async def opened_service(
    settings: Settings,
    wrap: Callable[[JobStore], JobStore] = lambda store: store,
    *,
    announcing: bool = False,
) -> AsyncIterator[JobService]:
    """A JobService on the store and broker `settings` name (the store passed through
    `wrap`, for tests that hold or count its calls); `announcing` also runs the
    announcer's flush loop, as a serving app does."""
    broker = registry.create_broker(settings)
    async with opened_store(settings) as store:
        await broker.open()
        metrics = Metrics()
        announcer = Announcer(EventHub(), broker, metrics, "test")
        if announcing:
            await announcer.start()
        try:
            yield JobService(
                wrap(store),
                broker,
                announcer,
                metrics,
                max_attempts=3,
                max_lease_losses=5,
            )
        finally:
            if announcing:
                await announcer.stop()
            await broker.close()
