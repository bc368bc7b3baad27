"""A real Chromium (Debian's `chromium`) driven by Playwright's async API, for the
dashboard and /docs tests; every page records its console errors and requests."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import (
    Browser,
    ConsoleMessage,
    Page,
    async_playwright,
    expect,
)

CHROMIUM = os.environ.get("VTS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "build" / "test-artifacts"
"""Where the browser tests leave what people look at (gitignored)."""
DESKTOP = {"width": 1280, "height": 800}
# A loaded 2-core CI machine runs the whole suite beside the browser: generous
# deadlines, which a passing assertion never waits for.
expect.set_options(timeout=15_000)
PHONE = {"width": 390, "height": 844}


def chromium_path() -> str:
    """The browser binary; a missing one fails the test (never skips it)."""
    found = shutil.which(CHROMIUM) or (
        CHROMIUM if os.access(CHROMIUM, os.X_OK) else None
    )
    if found is None:
        raise AssertionError(
            f"no Chromium at {CHROMIUM}: `apt-get install chromium` (Debian), or set "
            "VTS_TEST_CHROMIUM to a Chromium binary"
        )
    return found


class PageLog:
    """What one page did: console errors, uncaught exceptions, request URLs.

    `allow(pattern)` expects one console error matching `pattern` (a request the
    test makes fail on purpose, which Chromium reports as a failed resource).
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.request_headers: list[dict[str, str]] = []
        self._allowed: list[re.Pattern[str]] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("request", self._request)
        page.on("websocket", lambda ws: self.urls.append(ws.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning", "assert"):
            self.errors.append(f"{message.type}: {message.text} {message.location}")

    def _request(self, request: object) -> None:
        self.urls.append(request.url)  # type: ignore[attr-defined]
        self.request_headers.append(dict(request.headers))  # type: ignore[attr-defined]

    def allow(self, pattern: str) -> None:
        self._allowed.append(re.compile(pattern))

    def unexpected_errors(self) -> list[str]:
        return [
            error
            for error in self.errors
            if not any(allowed.search(error) for allowed in self._allowed)
        ]


class BrowserSession:
    """One Chromium; `new_page()` opens a page with a fresh context (own storage)."""

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.logs: list[PageLog] = []
        self.checked = False

    def check(self) -> None:
        """AssertionError if a page logged an error it did not `allow`. Called when
        the test's body ends (conftest), before its servers stop: a page that then
        loses its WebSocket and retries is not the test's failure."""
        self.checked = True
        unexpected = [e for log in self.logs for e in log.unexpected_errors()]
        assert not unexpected, "the pages logged:\n" + "\n".join(unexpected)

    async def new_page(self, viewport: dict[str, int] | None = None) -> PageLog:
        context = await self.browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        page = await context.new_page()
        page.set_default_timeout(15_000)
        log = PageLog(page)
        self.logs.append(log)
        return log


@asynccontextmanager
async def chromium() -> AsyncIterator[BrowserSession]:
    """A headless Chromium; afterwards (unless `check` ran), AssertionError if any
    page logged a console error, a warning or an uncaught exception it did not
    `allow`."""
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS
        )
        session = BrowserSession(browser)
        try:
            yield session
        finally:
            await browser.close()
        if not session.checked:
            session.check()
