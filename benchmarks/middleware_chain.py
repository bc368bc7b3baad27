"""vts's middleware chain alone, in process: µs per request around a handler that
does nothing, for POST /translate and a /ws/job/{id} upgrade request.

Deterministic where per_request.py is not: no sockets, no other process, so a
change of a microsecond shows. Compare two snapshots of vts/ by running it with each
first on PYTHONPATH (see _harness.VTS_SRC), e.g.
    PYTHONPATH=/tmp/vts-a python benchmarks/middleware_chain.py
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from functools import partial

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from vts.api.auth import auth_middleware
from vts.api.metrics import request_metrics_middleware
from vts.api.problems import problem_middleware
from vts.app import create_app
from vts.config import load_settings


class _OpenTransport:
    """What the chain asks of a live connection's transport (a Mock is slow)."""

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: object = None) -> object:
        return default


async def _requests(
    app: web.Application, method: str, path: str, count: int
) -> list[web.Request]:
    requests = []
    for _ in range(count):
        request = make_mocked_request(method, path, app=app, transport=_OpenTransport())
        match_info = await app.router.resolve(request)
        match_info.add_app(app)
        request._match_info = match_info
        requests.append(request)
    return requests


async def main(count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings({"VTS_DATABASE_URL": f"sqlite:///{tmp}/vts.db"})
        app = create_app(settings, workers=False)
        runner = web.AppRunner(app)
        await runner.setup()
        answer = web.Response(status=202)

        async def nothing(request: web.Request) -> web.StreamResponse:
            return answer

        chain = partial(
            request_metrics_middleware,
            handler=partial(
                problem_middleware, handler=partial(auth_middleware, handler=nothing)
            ),
        )
        try:
            for method, path in (
                ("POST", "/translate"),
                ("GET", f"/ws/job/{uuid.uuid4()}"),
            ):
                requests = await _requests(app, method, path, count)
                best = float("inf")
                for _ in range(repeat):
                    started = time.perf_counter()
                    for request in requests:
                        await chain(request)
                    best = min(best, time.perf_counter() - started)
                print(f"{method} {path.split('/')[1]}: {best / count * 1e6:.2f} µs")
        finally:
            await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=7, help="best of")
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.repeat))
