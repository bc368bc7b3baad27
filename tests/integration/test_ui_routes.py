"""The dashboard's and /docs' HTTP side: public, data-free pages under a strict CSP,
assets cached under versioned URLs, nothing inline for the CSP to block."""

from __future__ import annotations

import re
from typing import Any

import pytest

from vts.api.ui import CSP, STATIC

VtsClient = Any
ServerFactory = Any
ADMIN_KEY = "admin-" + "k" * 40
ASSET = re.compile(r'(?:src|href)="(/ui/static/[^"]+)"')
IMPORT = re.compile(r'from "\./([\w.-]+)"')
INLINE = re.compile(r"<script(?![^>]*\bsrc=)|\sstyle=|\son\w+=", re.I)


async def page(client: VtsClient, path: str) -> tuple[str, Any]:
    async with client.get(path) as response:
        assert response.status == 200, path
        return await response.text(), response.headers


@pytest.mark.parametrize("path", ["/ui/", "/docs"])
async def test_pages_are_revalidated_and_guarded(client: VtsClient, path: str) -> None:
    html, headers = await page(client, path)
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-cache"
    assert not INLINE.search(html), INLINE.search(html)
    async with client.get(path, headers={"If-None-Match": headers["ETag"]}) as again:
        assert again.status == 304


async def test_the_root_redirects_to_the_dashboard(client: VtsClient) -> None:
    async with client.get("/", allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"] == "/ui/"


async def test_every_asset_is_served_immutable_with_its_type(client: VtsClient) -> None:
    urls = set()
    for path in ("/ui/", "/docs"):
        urls.update(ASSET.findall((await page(client, path))[0]))
    modules = {m for js in STATIC.glob("*.js") for m in IMPORT.findall(js.read_text())}
    prefix = next(iter(urls)).rsplit("/", 1)[0]
    urls.update(f"{prefix}/{module}" for module in modules)
    assert {"swagger-ui-bundle.js", "dashboard.js", "jobs.js"} <= {
        url.rsplit("/", 1)[1] for url in urls
    }
    for url in urls:
        async with client.get(url) as response:
            assert response.status == 200, url
            assert response.headers["Cache-Control"] == (
                "public, max-age=31536000, immutable"
            )
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            kind = "text/javascript" if url.endswith(".js") else "text/css"
            assert response.content_type == kind, url


async def test_assets_of_another_version_are_not_cached_and_others_are_404(
    client: VtsClient,
) -> None:
    async with client.get("/ui/static/0123456789abcdef/dashboard.js") as response:
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-cache"
    for name in ("nothing.js", "index.html", "..%2Fui.py", "%2E%2E%2F%2E%2E%2Fkeys.py"):
        async with client.get(f"/ui/static/0123456789abcdef/{name}") as response:
            assert response.status == 404, name
            assert response.content_type == "application/problem+json"


async def test_with_keys_the_pages_need_none_and_say_so(
    app_server: ServerFactory,
) -> None:
    client = await app_server(auth="keys", admin_key=ADMIN_KEY)
    html, _ = await page(client, "/ui/")
    assert '<meta name="vts-auth" content="keys">' in html
    await page(client, "/docs")
    for url in ASSET.findall(html):
        await page(client, url)
    async with client.get("/jobs") as response:
        assert response.status == 401  # the data still needs the key


async def test_without_keys_the_page_says_so(client: VtsClient) -> None:
    html, _ = await page(client, "/ui/")
    assert '<meta name="vts-auth" content="none">' in html
