"""GET /openapi.json: the OpenAPI 3.1 description of the API."""

from __future__ import annotations

from typing import Any

from aiohttp import web

import vts

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "vts", "version": vts.__version__},
    "paths": {},
}


async def serve_openapi(request: web.Request) -> web.Response:
    return web.json_response(SPEC)
