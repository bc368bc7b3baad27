"""The dashboard and /docs in a real Chromium against `vts serve` with API keys:
the key is asked for, sent as the bearer and the WebSocket subprotocol, never put
in a URL, and a tenant sees only its own jobs."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import attrs
import pytest
from _browser import BrowserSession, PageLog
from _process import SEED_BODY, VtsProcess
from playwright.async_api import Page, expect

ADMIN_KEY = "admin-" + "k" * 40
SCOPES = ["jobs:read", "jobs:write", "dlq"]


@attrs.frozen
class Keyed:
    """A `vts serve` with VTS_AUTH=keys and a key for each of two tenants."""

    process: VtsProcess
    acme: str
    globex: str

    @property
    def url(self) -> str:
        return self.process.url

    async def submit(self, key: str, **metadata: Any) -> str:
        body = {**SEED_BODY, "metadata": {**SEED_BODY["metadata"], **metadata}}
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{self.url}/translate", json=body, headers=headers
            ) as r:
                assert r.status == 202, await r.text()
                return str((await r.json())["job_id"])

    async def jobs(self, key: str) -> list[dict[str, Any]]:
        headers = {"Authorization": f"Bearer {key}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{self.url}/jobs", headers=headers) as r:
                assert r.status == 200, await r.text()
                jobs: list[dict[str, Any]] = (await r.json())["jobs"]
                return jobs

    async def job_ids(self, key: str) -> list[str]:
        return [job["job_id"] for job in await self.jobs(key)]


async def _tenant_key(process: VtsProcess, tenant: str) -> str:
    body = {"tenant": tenant, "scopes": SCOPES}
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            f"{process.url}/admin/keys", json=body, headers=headers
        ) as r:
            assert r.status == 201, await r.text()
            return str((await r.json())["key"])


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    env = {
        "VTS_AUTH": "keys",
        "VTS_ADMIN_KEY": ADMIN_KEY,
        "VTS_SIM_DURATION": "0.05-0.2",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_SHUTDOWN_GRACE": "0",
    }
    process = VtsProcess(tmp_path_factory.mktemp("keyed"), env)
    try:
        asyncio.run(process.start())
        acme = asyncio.run(_tenant_key(process, "acme"))
        globex = asyncio.run(_tenant_key(process, "globex"))
        yield Keyed(process, acme, globex)
    finally:
        process.close()
    assert not process.error_lines(), process.logs()


async def sign_in(log: PageLog, keyed: Keyed, key: str) -> Page:
    page = log.page
    await page.goto(f"{keyed.url}/")
    await page.get_by_label("API key", exact=True).fill(key)
    await page.get_by_role("button", name="Use key").click()
    await expect(page.locator("#live")).to_have_text("live: connected")
    return page


def assert_key_in_no_url(log: PageLog, *keys: str) -> None:
    assert log.urls, "the page made no request"
    for url in log.urls:
        for key in keys:
            assert key not in url, url


def row(page: Page, job_id: str) -> Any:
    return page.locator(f"#jobs-table tbody tr[data-job-id='{job_id}']")


async def test_the_page_asks_for_a_key_and_shows_only_its_tenants_jobs(
    browser: BrowserSession, keyed: Keyed
) -> None:
    log = await browser.new_page()
    page = log.page
    await page.goto(f"{keyed.url}/")
    await expect(page.get_by_label("API key", exact=True)).to_be_focused()
    await expect(page.locator("#app")).to_be_hidden()
    data_calls = [u for u in log.urls if urlsplit(u).path.startswith(("/jobs", "/ws"))]
    assert not data_calls, "asked for data without a key"

    log.allow(r"status of 401 .*/jobs")  # the wrong key, refused on purpose
    await page.get_by_label("API key", exact=True).fill("vts_000000000000_" + "x" * 32)
    await page.keyboard.press("Enter")
    await expect(page.locator("#key-error")).to_have_text(
        "The server refused this key."
    )
    await expect(page.locator("#app")).to_be_hidden()

    await page.get_by_label("API key", exact=True).fill(keyed.acme)
    await page.keyboard.press("Enter")
    await expect(page.locator("#live")).to_have_text("live: connected")
    theirs = await keyed.submit(keyed.globex)
    ours = await keyed.submit(keyed.acme)
    await expect(row(page, ours).locator("td.status")).to_have_text("completed")
    # The other tenant's job was created and finished first: it would be here.
    await expect(row(page, theirs)).to_have_count(0)
    assert theirs not in await page.locator("#jobs-table").inner_text()
    # The counts are the store's, of this tenant only.
    done = [j for j in await keyed.jobs(keyed.acme) if j["status"] == "completed"]
    await expect(page.locator("#counts-source")).to_have_text("in the store")
    await expect(page.locator("#count-completed")).to_have_text(str(len(done)))

    assert_key_in_no_url(log, keyed.acme)
    bearers = {h.get("authorization") for h in log.request_headers}
    assert f"Bearer {keyed.acme}" in bearers
    # The key is kept for this tab: a reload does not ask again.
    await page.reload()
    await expect(page.locator("#live")).to_have_text("live: connected")
    await expect(page.locator("#login")).to_be_hidden()
    await page.get_by_role("button", name="Forget key").click()
    await expect(page.get_by_label("API key", exact=True)).to_be_visible()


async def test_an_admin_key_switches_tenant(
    browser: BrowserSession, keyed: Keyed
) -> None:
    log = await browser.new_page()
    page = await sign_in(log, keyed, ADMIN_KEY)
    acme = await keyed.submit(keyed.acme)
    globex = await keyed.submit(keyed.globex)
    await expect(row(page, acme).locator("td.status")).to_have_text("completed")
    await expect(row(page, globex).locator("td.status")).to_have_text("completed")

    await page.get_by_label("Tenant").fill("globex")
    await page.get_by_role("button", name="Switch").click()
    await expect(page.locator("#live")).to_have_text("live: connected")
    await expect(row(page, acme)).to_have_count(0)
    await expect(row(page, globex)).to_have_count(1)
    later_acme = await keyed.submit(keyed.acme)
    later_globex = await keyed.submit(keyed.globex)
    await expect(row(page, later_globex).locator("td.status")).to_have_text("completed")
    await expect(row(page, later_acme)).to_have_count(0)
    # A job made from the form is the chosen tenant's.
    await page.get_by_label("Video URL").fill("https://example.com/for-globex.mp4")
    await page.get_by_role("button", name="Submit").click()
    await expect(page.locator("#job-form-status")).to_contain_text("Created job")
    made = (await page.locator("#job-form-status").text_content() or "").split()[-1]
    assert made.rstrip(".") in await keyed.job_ids(keyed.globex)
    assert_key_in_no_url(log, ADMIN_KEY)


async def test_docs_try_it_out_creates_a_job_with_the_bearer_key(
    browser: BrowserSession, keyed: Keyed
) -> None:
    log = await browser.new_page()
    page = log.page
    await page.goto(f"{keyed.url}/docs")
    operation = page.locator("#operations-jobs-createJob")
    await expect(operation.locator(".opblock-summary-path")).to_have_text("/translate")
    await expect(operation.locator(".opblock-summary-method")).to_have_text("POST")

    await page.locator(".auth-wrapper").get_by_role("button", name="Authorize").click()
    dialog = page.locator(".modal-ux")
    await dialog.locator("input").first.fill(keyed.acme)
    await dialog.locator(".auth-btn-wrapper button.authorize").click()
    await expect(dialog.get_by_text("Authorized", exact=True)).to_be_visible()
    await dialog.locator(".auth-btn-wrapper button.btn-done").click()

    await operation.locator(".opblock-summary").click()
    await operation.get_by_role("button", name="Try it out").click()
    await operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status")
    await expect(status.first).to_have_text("202")
    body = await operation.locator(
        ".live-responses-table .microlight"
    ).first.inner_text()
    job_id = body.split('"job_id": "')[1].split('"')[0]
    assert job_id in await keyed.job_ids(keyed.acme)
    assert job_id not in await keyed.job_ids(keyed.globex)
    assert_key_in_no_url(log, keyed.acme)


# The README's way for a browser to read GET /events with keys on: EventSource
# cannot send the key, so fetch() with the bearer header and a streamed body.
READ_FIRST_EVENT = """async ([key, lastEventId, jobId]) => {
  const answer = await fetch(`/events?job_id=${jobId}`, {
    headers: {Authorization: `Bearer ${key}`, "Last-Event-ID": lastEventId},
  });
  if (!answer.ok) return {status: answer.status};
  const reader = answer.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return {status: answer.status, ended: true};
    text += decoder.decode(value, {stream: true});
    for (let end; (end = text.indexOf("\\n\\n")) >= 0; text = text.slice(end + 2)) {
      const fields = Object.fromEntries(text.slice(0, end).split("\\n")
        .filter((line) => !line.startsWith(":"))
        .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 2)]));
      if (fields.data) {
        await reader.cancel();
        return {status: answer.status, id: fields.id, event: fields.event,
                job: JSON.parse(fields.data)};
      }
    }
  }
}"""


async def test_a_browser_reads_the_event_stream_with_fetch_and_the_bearer_key(
    browser: BrowserSession, keyed: Keyed
) -> None:
    job_id = await keyed.submit(keyed.globex)
    log = await browser.new_page()
    page = log.page
    await page.goto(f"{keyed.url}/ui/")  # any page of vts: the same origin

    first = await page.evaluate(READ_FIRST_EVENT, [keyed.globex, "0", job_id])
    assert first["status"] == 200 and first["event"] == "job"
    assert int(first["id"]) > 0
    assert first["job"]["job_id"] == job_id
    # Resuming after that event goes on with the job's next version, not again.
    later = await page.evaluate(READ_FIRST_EVENT, [keyed.globex, first["id"], job_id])
    assert later["job"]["job_id"] == job_id
    assert later["job"]["version"] == first["job"]["version"] + 1
    assert int(later["id"]) > int(first["id"])
    # The other tenant's stream holds none of it: asked for both jobs from the
    # start, it begins with its own, submitted later.
    theirs_id = await keyed.submit(keyed.acme)
    both = f"{job_id}&job_id={theirs_id}"
    theirs = await page.evaluate(READ_FIRST_EVENT, [keyed.acme, "0", both])
    assert theirs["job"]["job_id"] == theirs_id
    assert int(theirs["id"]) > int(later["id"])
    log.allow(r"status of 401")
    wrong = await page.evaluate(READ_FIRST_EVENT, [keyed.acme + "x", "0", job_id])
    assert wrong == {"status": 401}
    assert_key_in_no_url(log, keyed.globex, keyed.acme)
