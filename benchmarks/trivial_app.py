"""The ceiling: a bare aiohttp app with vts's endpoints that does no work at all."""

# POST /translate answers 202 with a job id at once and the job completes immediately
# (or after --complete-after seconds); GET /ws/job/{id} and GET /ws/jobs (subscribe or
# ?all=true) push the same "completed" message vts would send. Nothing is stored,
# nothing is processed: the same load generator against it shows what aiohttp, the
# loopback and the client cost, so vts's figure over this one shows what vts costs.
# Run as its own process: `python benchmarks/trivial_app.py` (port from VTS_PORT).

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import uuid
from datetime import UTC, datetime

import orjson
from aiohttp import WSMsgType, web

HOT_JOBS = 20_000  # vts's hub remembers as many recent snapshots
HEARTBEAT_SECONDS = 20.0  # as vts, so idle sockets carry the same timers
PONG = b'{"type":"pong"}'

jobs_key = web.AppKey("jobs", collections.OrderedDict)
watchers_key = web.AppKey("watchers", dict)
all_key = web.AppKey("all", set)
complete_after_key = web.AppKey("complete_after", float)


class Outbox:
    """One connection's queue, drained by a task that exists only while it is busy."""

    __slots__ = ("_queue", "_writer", "ws")

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self._queue: collections.deque[bytes] = collections.deque()
        self._writer: asyncio.Future[None] | None = None

    def push(self, message: bytes) -> None:
        self._queue.append(message)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._drain())

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self.ws.send_frame(self._queue.popleft(), WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            self._queue.clear()
        finally:
            self._writer = None


def _now() -> str:
    now = datetime.now(UTC)
    return now.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _completed_message(job_id: str, body: dict[str, object], created: str) -> bytes:
    done = _now()
    target = body.get("target_language")
    return orjson.dumps(
        {
            "type": "job",
            "job_id": job_id,
            "status": "completed",
            "source_language": body.get("source_language"),
            "target_language": target,
            "metadata": body.get("metadata"),
            "progress": 100,
            "stage": None,
            "attempts": 1,
            "max_attempts": 3,
            "error": None,
            "result": {
                "output_url": f"https://media.vts.invalid/{job_id}/{target}.mp4",
                "subtitles_url": f"https://media.vts.invalid/{job_id}/{target}.vtt",
                "duration_seconds": 0.0,
            },
            "created_at": created,
            "updated_at": done,
            "started_at": created,
            "completed_at": done,
            "version": 3,
        }
    )


def _complete(
    app: web.Application, job_id: str, body: dict[str, object], created: str
) -> None:
    message = _completed_message(job_id, body, created)
    jobs = app[jobs_key]
    jobs[job_id] = message
    if len(jobs) > HOT_JOBS:
        jobs.popitem(last=False)
    for outbox in tuple(app[watchers_key].pop(job_id, ())):
        outbox.push(message)
    for outbox in tuple(app[all_key]):
        outbox.push(message)


async def translate(request: web.Request) -> web.Response:
    body = orjson.loads(await request.read())
    job_id = str(uuid.uuid4())
    loop = asyncio.get_running_loop()
    delay = request.app[complete_after_key]
    args = (request.app, job_id, body, _now())
    if delay > 0:
        loop.call_later(delay, _complete, *args)
    else:
        loop.call_soon(_complete, *args)
    payload = {
        "job_id": job_id,
        "status": "pending",
        "message": "Translation job started",
    }
    return web.Response(
        status=202,
        body=orjson.dumps(payload),
        content_type="application/json",
        headers={"Location": f"/jobs/{job_id}"},
    )


def _watch(app: web.Application, job_id: str, outbox: Outbox) -> None:
    """Push the job's message if it is done, else send it when it is."""
    message = app[jobs_key].get(job_id)
    if message is not None:
        outbox.push(message)
    else:
        app[watchers_key].setdefault(job_id, set()).add(outbox)


async def _serve_socket(
    request: web.Request, job_ids: list[str], multi: bool
) -> web.WebSocketResponse:
    app = request.app
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS)
    await ws.prepare(request)
    outbox = Outbox(ws)
    watched = set(job_ids)
    for job_id in job_ids:
        _watch(app, job_id, outbox)
    if multi and request.query.get("all") in ("true", "1"):
        app[all_key].add(outbox)
    try:
        async for msg in ws:
            if msg.type is not WSMsgType.TEXT:
                continue
            data = orjson.loads(msg.data)
            if data.get("type") == "ping":
                outbox.push(PONG)
            elif multi and data.get("type") == "subscribe":
                for job_id in data["job_ids"]:
                    watched.add(job_id)
                    _watch(app, job_id, outbox)
    finally:
        app[all_key].discard(outbox)
        for job_id in watched:
            waiting = app[watchers_key].get(job_id)
            if waiting is not None:
                waiting.discard(outbox)
                if not waiting:
                    del app[watchers_key][job_id]
    return ws


async def watch_job(request: web.Request) -> web.StreamResponse:
    return await _serve_socket(request, [request.match_info["job_id"]], multi=False)


async def watch_jobs(request: web.Request) -> web.StreamResponse:
    return await _serve_socket(request, [], multi=True)


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def create_app(complete_after: float) -> web.Application:
    app = web.Application()
    app[jobs_key] = collections.OrderedDict()
    app[watchers_key] = {}
    app[all_key] = set()
    app[complete_after_key] = complete_after
    app.router.add_post("/translate", translate)
    app.router.add_get("/ws/job/{job_id}", watch_job)
    app.router.add_get("/ws/jobs", watch_jobs)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--complete-after",
        type=float,
        default=0.0,
        help="seconds from submit to the completed message (0: at once)",
    )
    args = parser.parse_args()
    port = int(os.environ.get("VTS_PORT", "8000"))
    web.run_app(
        create_app(args.complete_after),
        host="127.0.0.1",
        port=port,
        access_log=None,
        backlog=1024,
        print=None,
    )


if __name__ == "__main__":
    main()
