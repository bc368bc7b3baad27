"""A real aiohttp server that speaks issue 10's auth contract, for the client side.

It checks `Authorization: Bearer <key>` on every request and WebSocket upgrade and
answers as vts does: 401 problem+json with `WWW-Authenticate: Bearer` for a missing
or unknown key, 403 for a key without the scope, 404 for an unknown job. Jobs it
creates are completed at once. It records every request's headers, so tests see
what the client really sent.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

ADMIN = "admin"
READ = "jobs:read"
WRITE = "jobs:write"

TENANT = web.RequestKey("tenant", str)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def problem(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    body = {
        "type": f"/problems/{code}",
        "title": code.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
    }
    return web.Response(
        status=status,
        text=json.dumps(body),
        content_type="application/problem+json",
        headers=headers,
    )


class AuthServer:
    """`keys` maps each accepted key to its scopes; `requests` holds (method, path,
    headers) of everything received; `unavailable` answers that many requests 503
    (with Retry-After: 0) before serving normally."""

    def __init__(self, keys: dict[str, set[str]]) -> None:
        self.keys = keys
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.arrivals: list[float] = []
        """time.monotonic() of each request, in the order of `requests`."""
        self.jobs: dict[str, dict[str, Any]] = {}
        self.unavailable = 0
        self.redirect_to = ""
        """When set, every request is answered 307 to the same path there."""
        self.url = ""

    def job(self, job_id: str, tenant: str) -> dict[str, Any]:
        return {
            "job_id": job_id,
            "status": "completed",
            "version": 3,
            "progress": 100,
            "stage": None,
            "tenant": tenant,
            "source_language": "en",
            "target_language": "es",
            "metadata": {"video_url": "https://example.com/video.mp4"},
            "attempts": 1,
            "max_attempts": 3,
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:01Z",
            "started_at": "2026-01-01T00:00:00Z",
            "completed_at": "2026-01-01T00:00:01Z",
            "result": {"output_url": f"https://example.com/{job_id}.mp4"},
            "error": None,
        }

    @web.middleware
    async def _auth(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.headers)))
        self.arrivals.append(time.monotonic())
        if self.redirect_to:
            raise web.HTTPTemporaryRedirect(self.redirect_to + request.path_qs)
        if request.path == "/healthz":
            return await handler(request)
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if not key:
            challenge = {"WWW-Authenticate": "Bearer"}
            return problem(401, "unauthorized", "no API key", challenge)
        if scheme != "Bearer" or key not in self.keys:
            challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
            return problem(401, "unauthorized", "invalid API key", challenge)
        scopes = self.keys[key]
        needed = WRITE if request.method == "POST" else READ
        if ADMIN not in scopes and needed not in scopes:
            return problem(403, "forbidden", f"the key lacks the scope {needed}")
        if self.unavailable > 0:
            self.unavailable -= 1
            retry = {"Retry-After": "0"}
            return problem(503, "store-unavailable", "try again", retry)
        request[TENANT] = (
            request.headers.get("VTS-Tenant", "default")
            if ADMIN in scopes
            else "default"
        )
        return await handler(request)

    async def _translate(self, request: web.Request) -> web.Response:
        job_id = str(uuid.uuid4())
        self.jobs[job_id] = self.job(job_id, request[TENANT])
        body = {"job_id": job_id, "status": "pending", "message": "started"}
        return web.json_response(body, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        job = self.jobs.get(request.match_info["job_id"])
        if job is None:
            return problem(404, "job-not-found", "no such job")
        return web.json_response(job)

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=30)
        await ws.prepare(request)
        async for message in ws:
            for job_id in json.loads(message.data).get("job_ids", []):
                job = self.jobs.get(job_id)
                if job is None:
                    error = {"type": "error", "job_id": job_id, "code": "job-not-found"}
                    await ws.send_json(error)
                else:
                    await ws.send_json({"type": "job", **job})
        return ws

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", _healthz)
        app.router.add_post("/translate", self._translate)
        app.router.add_get("/jobs/{job_id}", self._get)
        app.router.add_get("/ws/jobs", self._ws)
        return app


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@asynccontextmanager
async def auth_server(keys: dict[str, set[str]]) -> AsyncIterator[AuthServer]:
    """An AuthServer listening on a free 127.0.0.1 port (`.url`) for the block."""
    server = AuthServer(keys)
    runner = web.AppRunner(server.app(), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert runner.addresses, "the auth server did not bind"
    host, port = runner.addresses[0][:2]
    server.url = f"http://{host}:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()
