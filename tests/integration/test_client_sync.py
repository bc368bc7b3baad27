"""SyncTranslationClient against a real `vts serve`: the same flow, without asyncio."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from _process import VtsProcess, serve
from translation_client import (
    JobCancelledError,
    NotFoundError,
    SyncTranslationClient,
    TransportError,
    WaitTimeoutError,
)

pytestmark = pytest.mark.slow

VIDEO = {"video_url": "https://example.com/video.mp4"}


@pytest.fixture(scope="module")
def vts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    env = {"VTS_SIM_DURATION": "0.3", "VTS_SIM_ERROR_RATE": "0"}
    yield from serve(tmp_path_factory.mktemp("vts"), env)


def test_sync_client_submits_waits_and_watches(vts: VtsProcess) -> None:
    threads = threading.active_count()
    with SyncTranslationClient(vts.url, retry_delay=0.05) as client:
        created = client.start_translation(
            source_language="en",
            target_language="es",
            metadata={"video_url": "https://example.com/video.mp4"},
        )
        updates = list(client.watch(created["job_id"]))
        result = client.wait_for_completion(created["job_id"])
        assert client.get_job(created["job_id"]) == result
        listed = [job["job_id"] for job in client.list_jobs(page_size=1)]
    assert threading.active_count() == threads, "the loop thread has stopped"
    assert result["status"] == "completed"
    assert updates[-1] == result
    versions = [job["version"] for job in updates]
    assert versions == sorted(set(versions))
    assert created["job_id"] in listed


def test_sync_client_raises_the_same_errors(slow: VtsProcess) -> None:
    with SyncTranslationClient(slow.url) as client:
        with pytest.raises(NotFoundError):
            client.get_job(str(uuid.uuid4()))
        job_id = client.start_translation("en", "es", VIDEO)["job_id"]
        client.cancel(job_id)
        with pytest.raises(JobCancelledError):
            client.wait_for_completion(job_id)
        running = client.start_translation("en", "es", VIDEO)["job_id"]
        with pytest.raises(WaitTimeoutError):
            client.wait_for_completion(running, timeout=0.01)
        client.cancel(running)
        with pytest.raises(JobCancelledError):
            client.wait_for_completion(running)
    with pytest.raises(TransportError):
        client.get_job(job_id)


def test_sync_client_watch_can_stop_early(vts: VtsProcess) -> None:
    with SyncTranslationClient(vts.url) as client:
        job_id = client.start_translation("en", "es", VIDEO)["job_id"]
        first = next(iter(client.watch(job_id)))
        assert first["job_id"] == job_id
        assert client.wait_for_completion(job_id)["status"] == "completed"
