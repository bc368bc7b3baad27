"""The dashboard in a real Chromium: live rows, the form, Cancel and Replay."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from _browser import ARTIFACTS, PHONE, BrowserSession, PageLog
from playwright.async_api import Locator, Page, expect

from vts.errors import PermanentError

GatedProcessor = Any
ServerFactory = Any
VtsClient = Any
PAGE_SIZE = 50  # the dashboard's rows (dashboard.js PAGE_SIZE)
BAD_URL = "not a url"
URL_PROBLEM = "must be an http or https URL with a host"


async def open_dashboard(
    browser: BrowserSession, client: VtsClient, **kw: Any
) -> PageLog:
    """The dashboard, once its WebSocket is connected (so it misses no job)."""
    log = await browser.new_page(**kw)
    await log.page.goto(str(client.make_url("/")))
    await expect(log.page.locator("#live")).to_have_text("live: connected")
    return log


def row(page: Page, job_id: str, table: str = "jobs-table") -> Locator:
    return page.locator(f"#{table} tbody tr[data-job-id='{job_id}']")


async def test_a_job_submitted_through_the_api_moves_through_its_states_live(
    browser: BrowserSession, gated_client: VtsClient, gate: GatedProcessor
) -> None:
    log = await open_dashboard(browser, gated_client)
    page = log.page
    job_id = await gated_client.submit()
    job_row = row(page, job_id)
    await expect(job_row.locator("td.status")).to_have_text(
        re.compile("^(pending|processing)$")
    )
    await gate.started(job_id)
    await expect(job_row.locator("td.status")).to_have_text("processing")
    await gate.report(job_id, 40, "transcribing")
    await expect(job_row.locator("td.stage")).to_have_text("transcribing")
    await expect(job_row.locator("progress")).to_have_attribute(
        "aria-label", "progress 40%"
    )
    gate.succeed(job_id)
    await expect(job_row.locator("td.status")).to_have_text("completed")
    await expect(job_row.get_by_role("button", name="Cancel")).to_be_hidden()
    # Pushed, not polled: the jobs were read once at the start, and once more when
    # the WebSocket opened (to resync), never while the job moved (the counts at a
    # glance are refreshed on their own timer).
    reads = [url for url in log.urls if urlsplit(url).path == "/jobs"]
    assert len(reads) == 2, reads
    # The detail: every field, and the versions as they arrived.
    await job_row.get_by_role("button", name=job_id).click()
    dialog = page.get_by_role("dialog")
    await expect(dialog.locator("dd[data-field='status']")).to_have_text("completed")
    await expect(dialog.locator("dd[data-field='result']")).to_contain_text(
        "output_url"
    )
    history = dialog.locator("#detail-history tbody td:nth-child(2)")
    await expect(history.first).to_have_text("completed")
    seen = set(await history.all_text_contents())
    assert {"pending", "processing", "completed"} <= seen, seen
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()


async def test_the_form_creates_a_job_and_shows_the_servers_field_error(
    browser: BrowserSession, client: VtsClient
) -> None:
    log = await open_dashboard(browser, client)
    page = log.page
    log.allow(r"status of 422 .*/translate")  # the bad URL, refused on purpose
    # Keyboard only: type into each labelled field, Tab to Submit, press Enter.
    await page.get_by_label("Source language").fill("en")
    await page.keyboard.press("Tab")
    await page.keyboard.type("fr")
    await page.keyboard.press("Tab")
    await page.keyboard.type(BAD_URL)
    await page.keyboard.press("Tab")
    await expect(page.get_by_role("button", name="Submit")).to_be_focused()
    await page.keyboard.press("Enter")
    url_field = page.get_by_label("Video URL")
    await expect(page.locator("#video-url-error")).to_have_text(URL_PROBLEM)
    await expect(url_field).to_have_attribute("aria-invalid", "true")
    await expect(url_field).to_be_focused()
    assert await client.job_ids() == []  # refused: nothing was created

    await url_field.fill("https://example.com/talk.mp4")
    await page.keyboard.press("Enter")  # submits the form from the field
    status = page.locator("#job-form-status")
    await expect(status).to_have_text(re.compile("^Created job "))
    job_id = (await status.text_content() or "").split()[-1].rstrip(".")
    job = await client.job(job_id)
    assert (job["target_language"], job["metadata"]["video_url"]) == (
        "fr",
        "https://example.com/talk.mp4",
    )
    await expect(url_field).not_to_have_attribute("aria-invalid", "true")
    await expect(row(page, job_id).locator("td.languages")).to_have_text("en → fr")


async def test_cancel_stops_pending_and_processing_jobs(
    browser: BrowserSession, app_server: ServerFactory, gate: GatedProcessor
) -> None:
    client = await app_server(processor=gate, concurrency=1)
    page = (await open_dashboard(browser, client)).page
    running = await client.submit(n=1)
    await gate.started(running)
    waiting = await client.submit(n=2)  # the one worker is busy: it stays pending
    # The pending one first: cancelling the running one frees the worker for it.
    for job_id, status in ((waiting, "pending"), (running, "processing")):
        cells = row(page, job_id)
        await expect(cells.locator("td.status")).to_have_text(status)
        await cells.get_by_role("button", name="Cancel").click()
        await expect(cells.locator("td.status")).to_have_text("cancelled")
        await expect(cells.get_by_role("button", name="Cancel")).to_be_hidden()
        assert (await client.job(job_id))["status"] == "cancelled"


async def test_status_filter_and_older_pages(
    browser: BrowserSession, client: VtsClient
) -> None:
    ids = [await client.submit(n=n) for n in range(PAGE_SIZE + 5)]
    page = (await open_dashboard(browser, client)).page
    rows = page.locator("#jobs-table tbody tr")
    await expect(rows).to_have_count(PAGE_SIZE)
    await expect(rows.first).to_have_attribute("data-job-id", ids[-1])
    await page.get_by_role("button", name="Older").click()
    await expect(rows).to_have_count(5)
    await expect(rows.first).to_have_attribute("data-job-id", ids[4])
    await expect(page.get_by_role("button", name="Older")).to_be_disabled()
    await page.get_by_role("button", name="Newest (live)").click()
    await expect(rows).to_have_count(PAGE_SIZE)
    await page.get_by_label("Status").select_option("failed")
    await expect(rows).to_have_count(0)
    await page.get_by_label("Status").select_option("completed")
    await expect(rows).to_have_count(PAGE_SIZE)


async def test_replay_runs_a_dead_letter_again(
    browser: BrowserSession, gated_client: VtsClient, gate: GatedProcessor
) -> None:
    page = (await open_dashboard(browser, gated_client)).page
    job_id = await gated_client.submit()
    await gate.started(job_id)
    gate.fail(job_id, PermanentError("unsupported codec"))
    dead = row(page, job_id, "dlq-table")
    await expect(dead.locator("td.error")).to_have_text(
        "permanent-error: unsupported codec"
    )
    await dead.get_by_role("button", name="Replay").click()
    await expect(dead).to_have_count(0)
    await gate.started(job_id, attempt=2)
    gate.succeed(job_id)
    await expect(row(page, job_id).locator("td.status")).to_have_text("completed")
    assert (await gated_client.job(job_id))["status"] == "completed"


async def test_the_dashboard_fits_a_phone(
    browser: BrowserSession, client: VtsClient
) -> None:
    page = (await open_dashboard(browser, client, viewport=PHONE)).page
    job_id = await client.submit()
    await expect(row(page, job_id).locator("td.status")).to_have_text("completed")
    # Nothing but the tables' own scroll boxes is wider than the screen.
    overflow = await page.evaluate("document.documentElement.scrollWidth")
    assert overflow <= PHONE["width"], overflow
    for label in ("Source language", "Target language", "Video URL", "Status"):
        box = await page.get_by_label(label).bounding_box()
        assert box is not None, label
        assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], (label, box)
    await page.screenshot(path=ARTIFACTS / "dashboard-phone.png", full_page=True)
