"""The dashboard (/ui/) and the API reference (/docs): static pages served by vts.

The pages hold no data: every job they show comes from the API with the visitor's
key, so they and their assets answer without one (vts.api.auth.PUBLIC_PATHS). Assets
live under a URL versioned by their content, cached for a year; the pages themselves
are revalidated on every load, so a new vts is picked up at once.
"""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path

from aiohttp import hdrs, web

from vts.keys import settings_key

STATIC = Path(__file__).parent / "static"
SWAGGER_DIST = "swagger-ui-py"
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css")
ASSET_ROUTE = "/ui/static/{version}/{name}"
UI_PATHS = frozenset({"/", "/ui/", "/docs", ASSET_ROUTE})
"""The routes of the pages and their assets: public, like /openapi.json."""
STATIC_MARK = "@STATIC@"
AUTH_MARK = "@AUTH@"

# No inline script or style anywhere: every script and style sheet is a file under
# 'self', and the WebSocket to the same origin is covered by connect-src 'self'
# (CSP Level 3). Swagger UI renders under it too: React sets styles through the
# CSSOM, which style-src does not govern, and its icons are data: images.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
ASSET_CACHE = "public, max-age=31536000, immutable"
# Named here, not guessed from the system's mime.types: a module script is run only
# when served as JavaScript (and nosniff forbids guessing in the browser too).
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


@functools.cache
def _assets() -> dict[str, Path]:
    """Every file the pages may load, by name: ours and Swagger UI's (the pages
    themselves are templates, served only filled in)."""
    files = {p.name: p for p in STATIC.iterdir() if p.suffix in CONTENT_TYPES}
    swagger = Path(str(metadata.distribution(SWAGGER_DIST).locate_file("swagger_ui")))
    for name in SWAGGER_FILES:
        files[name] = swagger / "static" / name
    return files


@functools.cache
def asset_version() -> str:
    """A digest of every asset: the part of their URLs that changes with them."""
    digest = hashlib.sha256()
    for name, path in sorted(_assets().items()):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@functools.cache
def _page(name: str, auth_mode: str) -> tuple[bytes, str]:
    """A page with its asset URLs and the auth mode filled in, and its ETag.

    The dashboard learns from the mode whether to ask for a key before its first
    call, rather than from a refused one."""
    text = (STATIC / name).read_text(encoding="utf-8")
    text = text.replace(STATIC_MARK, f"/ui/static/{asset_version()}")
    body = text.replace(AUTH_MARK, auth_mode).encode()
    return body, '"' + hashlib.sha256(body).hexdigest()[:24] + '"'


def _page_response(request: web.Request, name: str) -> web.Response:
    body, etag = _page(name, request.app[settings_key].auth_mode)
    headers = {
        **COMMON_HEADERS,
        "Content-Security-Policy": CSP,
        "Cache-Control": "no-cache",
        "ETag": etag,
    }
    if etag in request.headers.get(hdrs.IF_NONE_MATCH, ""):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=body, content_type="text/html", charset="utf-8", headers=headers
    )


async def root(request: web.Request) -> web.Response:
    """GET /: the dashboard lives at /ui/."""
    raise web.HTTPFound("/ui/", headers=COMMON_HEADERS)


async def dashboard(request: web.Request) -> web.Response:
    """GET /ui/: the live dashboard."""
    return _page_response(request, "index.html")


async def docs(request: web.Request) -> web.Response:
    """GET /docs: Swagger UI on /openapi.json, from the swagger-ui-py package."""
    return _page_response(request, "docs.html")


async def asset(request: web.Request) -> web.StreamResponse:
    """GET /ui/static/{version}/{name}: one asset; immutable under its version.

    A page from another vts (a rolling upgrade) may ask for a version this one
    does not have: it gets this one's file, revalidated rather than cached.
    """
    path = _assets().get(request.match_info["name"])
    if path is None:
        raise web.HTTPNotFound(headers=COMMON_HEADERS)
    current = request.match_info["version"] == asset_version()
    headers = {
        **COMMON_HEADERS,
        "Cache-Control": ASSET_CACHE if current else "no-cache",
        "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
    }
    return web.FileResponse(path, headers=headers)


def setup_ui_routes(app: web.Application) -> None:
    app.router.add_get("/", root)
    app.router.add_get("/ui/", dashboard)
    app.router.add_get("/docs", docs)
    app.router.add_get(ASSET_ROUTE, asset)
