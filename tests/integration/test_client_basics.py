"""TranslationClient against a real `vts serve`: the seed example, outcomes, errors."""

from __future__ import annotations

import asyncio
import textwrap
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from _process import VtsProcess, serve
from prometheus_client.parser import text_string_to_metric_families
from translation_client import (
    APIError,
    ConflictError,
    IdempotencyKeyReusedError,
    JobCancelledError,
    JobError,
    JobFailedError,
    NotFoundError,
    TranslationClient,
    TranslationClientError,
    ValidationError,
    WaitTimeoutError,
)

pytestmark = pytest.mark.slow

VIDEO = {"video_url": "https://example.com/video.mp4"}
SEED_URL = "http://localhost:8000"
# The client example of the seed README, character for character (README "Python client").
SEED_EXAMPLE = """\
from translation_client import TranslationClient

async with TranslationClient("http://localhost:8000") as client:
    # Start a translation job
    response = await client.start_translation(
        source_language="en",
        target_language="es",
        metadata={"video_url": "https://example.com/video.mp4"}
    )
    
    # Wait for completion
    result = await client.wait_for_completion(response["job_id"])
    print(f"Translation completed: {result}")
"""


@pytest.fixture(scope="module")
def vts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    """Jobs that take 0.3 s and never fail."""
    env = {"VTS_SIM_DURATION": "0.3", "VTS_SIM_ERROR_RATE": "0"}
    yield from serve(tmp_path_factory.mktemp("vts"), env)


@pytest.fixture(scope="module")
def slow_vts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    """Jobs that take a minute: still running whenever a test looks."""
    env = {"VTS_SIM_DURATION": "60", "VTS_SIM_ERROR_RATE": "0"}
    yield from serve(tmp_path_factory.mktemp("slow"), env)


async def counter(client: TranslationClient, name: str, **labels: str) -> float:
    """The value of one sample of the server's /metrics (0 if absent)."""
    async with client._http.session().get(f"{client.base_url}/metrics") as response:
        text = await response.text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


async def test_client_seed_example_runs_as_written(
    vts: VtsProcess, capsys: pytest.CaptureFixture[str]
) -> None:
    # The one change: the server's address (port 8000 may belong to someone else).
    assert SEED_EXAMPLE.count(SEED_URL) == 1
    source = SEED_EXAMPLE.replace(SEED_URL, vts.url)
    namespace: dict[str, Any] = {}
    exec(f"async def example():\n{textwrap.indent(source, '    ')}", namespace)
    await namespace["example"]()

    printed = capsys.readouterr().out
    assert printed.startswith("Translation completed: {")
    assert "'status': 'completed'" in printed
    assert "'output_url': 'https://" in printed


async def test_client_seed_options_are_accepted() -> None:
    client = TranslationClient(
        base_url=SEED_URL,
        max_retries=3,
        retry_delay=1.0,
        timeout=30.0,
        heartbeat_interval=5.0,
    )
    async with client:
        assert (client.base_url, client.max_retries, client.timeout) == (
            SEED_URL,
            3,
            30.0,
        )
        assert (client.retry_delay, client.heartbeat_interval) == (1.0, 5.0)


async def test_client_wait_returns_the_completed_job(vts: VtsProcess) -> None:
    async with TranslationClient(vts.url) as client:
        created = await client.start_translation("en", "pt-BR", VIDEO)
        assert created["status"] == "pending"
        seen: list[dict[str, Any]] = []
        job = await client.wait_for_completion(created["job_id"], on_update=seen.append)
    assert job["job_id"] == created["job_id"]
    assert (job["status"], job["progress"], job["target_language"]) == (
        "completed",
        100,
        "pt-BR",
    )
    assert job["result"] and job["result"]["output_url"].startswith("https://")
    versions = [update["version"] for update in seen]
    assert versions == sorted(set(versions)), "each version once, in order"
    assert seen[-1] == job


async def test_client_wait_on_finished_job_returns_at_once(vts: VtsProcess) -> None:
    async with TranslationClient(vts.url) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        done = await client.wait_for_completion(job_id)
    async with TranslationClient(vts.url) as client:
        started = time.monotonic()
        again = await client.wait_for_completion(job_id, timeout=5)
        assert time.monotonic() - started < 1.0
        assert [job async for job in client.watch(job_id)] == [done]
    assert again == done


async def test_client_failed_job_raises_job_failed_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {
        "VTS_SIM_DURATION": "0.2",
        "VTS_SIM_ERROR_RATE": "1",
        "VTS_MAX_ATTEMPTS": "1",
    }
    process = VtsProcess(tmp_path_factory.mktemp("failing"), env)
    async with process, TranslationClient(process.url) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        with pytest.raises(JobFailedError) as failed:
            await client.wait_for_completion(job_id)
        assert isinstance(failed.value, JobError | TranslationClientError)
        job = failed.value.job
        assert (job["job_id"], job["status"], job["attempts"]) == (job_id, "failed", 1)
        assert failed.value.error == job["error"]
        assert failed.value.error and failed.value.error["code"]
        assert failed.value.error["message"] in str(failed.value)

        dead = await client.list_dead_letters()
        assert [entry["job_id"] for entry in dead] == [job_id]
        replayed = await client.replay(job_id)
        assert (replayed["status"], replayed["attempts"]) == ("pending", 0)
        with pytest.raises(JobFailedError):
            await client.wait_for_completion(job_id, timeout=30)


async def test_client_cancelled_job_raises_job_cancelled_error(
    slow_vts: VtsProcess,
) -> None:
    async with TranslationClient(slow_vts.url) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        waiting = asyncio.create_task(client.wait_for_completion(job_id))
        cancelled = await client.cancel(job_id)
        assert cancelled["status"] == "cancelled"
        with pytest.raises(JobCancelledError) as raised:
            await waiting
        assert raised.value.job["status"] == "cancelled"
        assert raised.value.job["version"] == cancelled["version"]
        with pytest.raises(ConflictError) as conflict:
            await client.cancel(job_id)
        assert conflict.value.status == 409


async def test_client_wait_timeout_is_a_timeout_error(slow_vts: VtsProcess) -> None:
    async with TranslationClient(slow_vts.url) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            await client.wait_for_completion(job_id, timeout=0.5)
        assert 0.5 <= time.monotonic() - started < 3
        error = raised.value
        assert isinstance(error, WaitTimeoutError)
        assert isinstance(error, TranslationClientError)
        assert error.job_id == job_id
        assert error.job is not None and error.job["status"] in (
            "pending",
            "processing",
        )
        await client.cancel(job_id)


async def test_client_same_idempotency_key_returns_the_same_job(
    slow_vts: VtsProcess,
) -> None:
    key = str(uuid.uuid4())
    async with TranslationClient(slow_vts.url) as client:
        first = await client.start_translation("en", "es", VIDEO, idempotency_key=key)
        again = await client.start_translation("en", "es", VIDEO, idempotency_key=key)
        other = await client.start_translation("en", "es", VIDEO)
        assert again["job_id"] == first["job_id"] != other["job_id"]
        with pytest.raises(IdempotencyKeyReusedError) as reused:
            await client.start_translation("en", "fr", VIDEO, idempotency_key=key)
        assert isinstance(reused.value, ValidationError)
        assert reused.value.status == 422
        for job_id in (first["job_id"], other["job_id"]):
            await client.cancel(job_id)


async def test_client_bad_language_raises_validation_error_once(
    vts: VtsProcess,
) -> None:
    async with TranslationClient(vts.url, max_retries=3, retry_delay=0.01) as client:
        labels = {"method": "POST", "route": "/translate", "status": "422"}
        before = await counter(client, "vts_http_requests_total", **labels)
        with pytest.raises(ValidationError) as raised:
            await client.start_translation("english!", "es", VIDEO)
        after = await counter(client, "vts_http_requests_total", **labels)
    error = raised.value
    assert isinstance(error, APIError) and error.status == 422
    assert error.type == "/problems/validation-error"
    assert "'english!' is not a BCP 47 language tag" in error.detail
    assert set(error.errors) == {"source_language"}
    assert error.detail in str(error)
    assert after - before == 1, "a 4xx is not retried"


async def test_client_unknown_job_raises_not_found(vts: VtsProcess) -> None:
    unknown = str(uuid.uuid4())
    async with TranslationClient(vts.url) as client:
        with pytest.raises(NotFoundError) as raised:
            await client.get_job(unknown)
        assert raised.value.status == 404 and unknown in raised.value.detail
        with pytest.raises(NotFoundError):
            await client.wait_for_completion(unknown, timeout=10)
        with pytest.raises(ValidationError):
            await client.wait_for_completion("not-a-uuid", timeout=10)


async def test_client_list_jobs_follows_the_cursor(slow_vts: VtsProcess) -> None:
    async with TranslationClient(slow_vts.url) as client:
        ids = [
            (await client.start_translation("en", "de", {**VIDEO, "n": n}))["job_id"]
            for n in range(5)
        ]
        listed = [job["job_id"] async for job in client.list_jobs(page_size=2)]
        assert listed[:5] == ids[::-1], "newest first, across pages"
        for job_id in ids[:2]:
            await client.cancel(job_id)
        cancelled = {job["job_id"] async for job in client.list_jobs("cancelled", 2)}
        assert set(ids[:2]) <= cancelled and not set(ids[2:]) & cancelled
        for job_id in ids[2:]:
            await client.cancel(job_id)
