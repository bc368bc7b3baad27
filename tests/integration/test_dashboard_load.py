"""The dashboard of a `vts serve` with a few hundred jobs moving: it keeps up, keeps
only the newest page in the DOM, draws its charts, and is photographed for the
README (build/test-artifacts/dashboard.png)."""

from __future__ import annotations

import asyncio
import re

import aiohttp
from _browser import ARTIFACTS, BrowserSession
from _process import SEED_BODY, Spawn, VtsProcess
from _support import wait_until
from playwright.async_api import expect

JOBS = 300
PAGE_SIZE = 50  # the dashboard's rows (dashboard.js PAGE_SIZE)
FRAME_LATENCY = """
new Promise((done) => {
  const start = performance.now();
  requestAnimationFrame(() => setTimeout(() => done(performance.now() - start)));
})
"""


async def completed(
    http: aiohttp.ClientSession, vts: VtsProcess, at_least: int
) -> bool:
    async with http.get(f"{vts.url}/metrics") as response:
        text = await response.text()
    found = re.search(r'^vts_jobs\{status="completed"\} (\S+)$', text, re.M)
    return found is not None and float(found[1]) >= at_least


async def test_the_dashboard_keeps_up_with_hundreds_of_jobs(
    browser: BrowserSession, spawn: Spawn, http: aiohttp.ClientSession
) -> None:
    vts = await spawn(
        {
            "VTS_SIM_DURATION": "0.3-2.5",
            "VTS_SIM_ERROR_RATE": "0.05",
            "VTS_MAX_ATTEMPTS": "1",
            "VTS_CONCURRENCY": "60",
        }
    )
    log = await browser.new_page()
    page = log.page
    await page.goto(f"{vts.url}/")
    await expect(page.locator("#live")).to_have_text("live: connected")

    limit = asyncio.Semaphore(16)

    async def submit(n: int) -> None:
        body = {**SEED_BODY, "metadata": {**SEED_BODY["metadata"], "n": n}}
        async with limit, http.post(f"{vts.url}/translate", json=body) as response:
            assert response.status == 202, vts.logs()

    await asyncio.gather(*(submit(n) for n in range(JOBS)))
    # Photographed late in the run: the newest rows are moving, the charts filled.
    await wait_until(lambda: completed(http, vts, 200), 60, 0.2, "200 jobs completed")
    rows = page.locator("#jobs-table tbody tr")
    await expect(rows).to_have_count(PAGE_SIZE)
    await expect(page.locator("#count-completed")).not_to_have_text("0")
    await expect(page.locator("#durations-now")).to_contain_text(" / ")  # p50 / p95
    await expect(page.locator("#rate")).not_to_have_text("0.0")
    # Busy, but the page still answers: a frame within half a second.
    assert await page.evaluate(FRAME_LATENCY) < 500
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=ARTIFACTS / "dashboard.png")
    # Every job reaches the page: the table ends with no job left unfinished.
    await expect(rows.locator("td.status", has_text="pending")).to_have_count(
        0, timeout=60_000
    )
    await expect(rows.locator("td.status", has_text="processing")).to_have_count(
        0, timeout=60_000
    )
