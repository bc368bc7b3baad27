"""Webhook test helpers: endpoint factories for the store contract, and a real
receiver on a loopback port that verifies with the `standardwebhooks` package."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import attrs
from _support import T0, make_job
from aiohttp import web
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from vts.ports import JobStore
from vts.snapshot import Snapshot
from vts.webhooks.messages import plan_deliveries
from vts.webhooks.model import Delivery, Endpoint, new_endpoint_id, new_secret
from vts.webhooks.port import Due, WebhookStore


def endpoint(tenant: str = "default", **changes: object) -> Endpoint:
    """An endpoint of `tenant` for every event type, created a day before T0."""
    made = Endpoint(
        id=new_endpoint_id(),
        tenant=tenant,
        url="https://hooks.example.com/in",
        events=("*",),
        description="test",
        secret=new_secret(),
        created_at=T0 - timedelta(days=1),
    )
    return attrs.evolve(made, **changes) if changes else made


def hooks(store: JobStore) -> WebhookStore:
    assert isinstance(store, WebhookStore)
    return store


def plan(
    events: Sequence[tuple[int, Snapshot]], endpoints: Sequence[Endpoint]
) -> list[Delivery]:
    return plan_deliveries(events, endpoints, T0)


async def dispatch(store: JobStore) -> tuple[int, int] | None:
    """One dispatch step with `plan`: (events read, deliveries made)."""
    result = await hooks(store).dispatch_events(500, plan)
    return None if result is None else (result[0], len(result[1]))


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def dispatched(store: JobStore, e: Endpoint, jobs: int = 1) -> list[Delivery]:
    """Store `e`, create `jobs` jobs, dispatch: their deliveries, newest first."""
    await hooks(store).create_endpoint(e)
    for n in range(1, jobs + 1):
        await store.create(make_job(job_id(n)), None)
    await hooks(store).dispatch_events(500, plan)
    return await hooks(store).list_deliveries(e.id, None, None, 100)


def take_all(due: Sequence[Due]) -> list[Due]:
    return list(due)


@attrs.define
class Received:
    """One request as the receiver saw it, and whether it verified."""

    headers: dict[str, str]
    body: bytes
    payload: object
    error: str | None


class Receiver:
    """An aiohttp server on 127.0.0.1 that records every POST, verifying each with
    the standardwebhooks library against `secret` (set it once the endpoint
    exists). `answers` are the statuses of the first requests, in order; 200 after
    them (with `retry_after` as Retry-After, if given), each only once `gate` (if
    any) is set. `url` is its http URL (tests run
    with VTS_WEBHOOK_ALLOW_PRIVATE=true)."""

    def __init__(
        self,
        answers: Sequence[int] = (),
        gate: asyncio.Event | None = None,
        retry_after: str | None = None,
    ) -> None:
        self.answers = list(answers)
        self.gate = gate
        self.retry_after = retry_after
        self.secret: str | None = None
        self.received: list[Received] = []
        self.arrived = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self, port: int = 0) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        payload, error = None, None
        try:
            assert self.secret is not None, "the receiver has no secret yet"
            payload = Webhook(self.secret).verify(body, headers)
        except (WebhookVerificationError, AssertionError) as exc:
            error = str(exc)
        status = self.answers.pop(0) if self.answers else 200
        async with self.arrived:
            self.received.append(Received(headers, body, payload, error))
            self.arrived.notify_all()
        if self.gate is not None:
            await self.gate.wait()  # a slow receiver: answers once the test opens it
        headers = {}
        if status >= 300 and self.retry_after is not None:
            headers["Retry-After"] = self.retry_after
        return web.Response(status=status, text=f"answered {status}", headers=headers)

    async def wait_for(self, count: int, timeout: float = 15.0) -> list[Received]:
        """The first `count` requests, once they have arrived."""
        async with self.arrived:
            await asyncio.wait_for(
                self.arrived.wait_for(lambda: len(self.received) >= count), timeout
            )
        return self.received[:count]
