"""TranslationClient.events() and `vts-client events` against real `vts serve`
processes: typed events, a reconnect across a restart without gap or duplicate,
one printed line per event."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import threading
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from _process import Spawn, submit
from _servers import free_port
from _support import wait_until
from aiohttp import web
from aiohttp.test_utils import TestServer
from translation_client import (
    JobEvent,
    StreamEvent,
    StreamReset,
    SyncTranslationClient,
    TranslationClient,
    ValidationError,
)

from integration.test_client_cli import command

pytestmark = pytest.mark.slow

ENV = {
    "VTS_SIM_DURATION": "0.2-0.5",
    "VTS_SIM_ERROR_RATE": "0",
    "VTS_CONCURRENCY": "3",
    "VTS_LEASE_SECONDS": "1",
}
VIDEO = {"video_url": "https://example.com/video.mp4"}


def finals(events: list[StreamEvent]) -> set[str]:
    return {
        e.job["job_id"]
        for e in events
        if isinstance(e, JobEvent) and e.job["status"] == "completed"
    }


async def collect(
    client: TranslationClient, into: list[StreamEvent], **options: Any
) -> None:
    async for event in client.events(**options):
        into.append(event)


async def test_client_events_resume_by_themselves_across_a_kill_9(
    spawn_killable: Spawn,
) -> None:
    env = {**ENV, "VTS_PORT": str(free_port())}
    first = await spawn_killable(env)
    seen: list[StreamEvent] = []
    async with TranslationClient(first.url, max_retries=30, retry_delay=0.05) as client:
        job_ids = [
            (await client.start_translation("en", "es", VIDEO))["job_id"]
            for _ in range(6)
        ]
        following = asyncio.create_task(collect(client, seen, last_event_id=0))
        await wait_until(lambda: len(seen) >= 8, 20, message="the first events")
        first.kill()
        await first.wait(10)
        second = await spawn_killable(env)  # the same port and SQLite file
        # One created after the restart: the stream must have reconnected to see it.
        job_ids.append((await client.start_translation("en", "es", VIDEO))["job_id"])
        await wait_until(
            lambda: finals(seen) == set(job_ids) or following.done(),
            60,
            message="every job completed, as followed across the restart",
        )
        assert not following.done(), following
        following.cancel()
        await asyncio.gather(following, return_exceptions=True)
    assert all(isinstance(e, JobEvent) for e in seen)
    ids = [int(e.id) for e in seen]
    assert ids == sorted(set(ids))
    versions: dict[str, list[int]] = {}
    for event in seen:
        assert isinstance(event, JobEvent)
        versions.setdefault(event.job["job_id"], []).append(event.job["version"])
    for job_id in job_ids:
        assert versions[job_id] == list(range(1, len(versions[job_id]) + 1))
    assert not second.error_lines(), second.logs()


async def test_client_events_narrow_start_now_and_refuse_a_bad_id(
    spawn_killable: Spawn,
) -> None:
    vts = await spawn_killable(ENV)
    async with TranslationClient(vts.url, retry_delay=0.05) as client:
        old = (await client.start_translation("en", "es", VIDEO))["job_id"]
        await client.wait_for_completion(old, timeout=30)
        live: list[StreamEvent] = []
        following = asyncio.create_task(collect(client, live))
        # No event says "the stream is open": create jobs until one shows up.
        created: list[str] = []

        async def shows_up() -> bool:
            if not live:
                job = await client.start_translation("en", "es", VIDEO)
                created.append(job["job_id"])
            return bool(finals(live))

        await wait_until(shows_up, 30, 0.2, "a new job's events")
        following.cancel()
        live_ids = {e.job["job_id"] for e in live if isinstance(e, JobEvent)}
        assert live_ids <= set(created) and old not in live_ids

        narrowed: list[StreamEvent] = []
        task = asyncio.create_task(
            collect(client, narrowed, job_ids=[old], last_event_id=0)
        )
        await wait_until(lambda: old in finals(narrowed), 30, message="old's events")
        task.cancel()
        assert {e.job["job_id"] for e in narrowed if isinstance(e, JobEvent)} == {old}

        with pytest.raises(ValidationError):
            async for _ in client.events(job_ids=["nope"]):
                pass


def _lines(process: subprocess.Popen[str], until: str, out: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        out.append(line)
        if until in line:
            return


async def test_cli_events_prints_one_line_per_event(spawn_killable: Spawn) -> None:
    vts = await spawn_killable(ENV)
    async with aiohttp.ClientSession() as http:
        (job_id,) = await submit(http, vts, 1)
        async with TranslationClient(vts.url) as client:
            await client.wait_for_completion(job_id, timeout=30)
            replay = [e async for e in _take(client.events(last_event_id=0), job_id)]
    for as_json in (False, True):
        args = ["--json"] if as_json else []
        until = '"status": "completed"' if as_json else " completed "
        process = subprocess.Popen(
            command(*args, "events", "--last-event-id", "0", url=vts.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        lines: list[str] = []
        reader = threading.Thread(target=_lines, args=(process, until, lines))
        reader.start()
        await asyncio.to_thread(reader.join, 30)
        process.terminate()
        process.communicate(timeout=10)
        assert len(lines) == len(replay), lines
        for line, event in zip(lines, replay, strict=True):
            assert isinstance(event, JobEvent)
            if as_json:
                assert json.loads(line) == {
                    "id": event.id,
                    "event": "job",
                    "job": event.job,
                }
            else:
                assert line.startswith(f"{event.id}  {job_id}  {event.job['status']}")
    bad = subprocess.run(
        command("events", "--last-event-id", "x", url=vts.url),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2 and "event id" in bad.stderr


async def _take(
    events: AsyncIterator[StreamEvent], job_id: str
) -> AsyncIterator[StreamEvent]:
    """Events up to `job_id`'s completion."""
    async for event in events:
        yield event
        if isinstance(event, JobEvent) and event.job["status"] == "completed":
            return
    raise AssertionError("the stream ended")  # pragma: no cover


async def test_sync_client_events_is_a_blocking_iterator(spawn_killable: Spawn) -> None:
    vts = await spawn_killable(ENV)

    def follow() -> tuple[str, list[StreamEvent]]:
        with SyncTranslationClient(vts.url) as client:
            job_id = client.start_translation("en", "es", VIDEO)["job_id"]
            seen: list[StreamEvent] = []
            for event in client.events([job_id], last_event_id=0):
                seen.append(event)
                if isinstance(event, JobEvent) and event.job["status"] == "completed":
                    break
            return job_id, seen

    job_id, seen = await asyncio.to_thread(follow)
    jobs = [e.job for e in seen if isinstance(e, JobEvent)]
    assert len(jobs) == len(seen)
    assert {job["job_id"] for job in jobs} == {job_id}
    assert [job["version"] for job in jobs] == list(range(1, len(jobs) + 1))


async def test_client_events_yield_a_reset_once_the_sweeper_pruned_them(
    spawn_killable: Spawn,
) -> None:
    vts = await spawn_killable({**ENV, "VTS_EVENT_RETENTION": "0.5s"})
    async with TranslationClient(vts.url, retry_delay=0.05) as client:
        old = (await client.start_translation("en", "es", VIDEO))["job_id"]
        await client.wait_for_completion(old, timeout=30)

        async def first_from_zero() -> StreamEvent:
            async with contextlib.aclosing(client.events(last_event_id=0)) as events:
                return await anext(events)

        async def pruned() -> bool:
            return isinstance(await first_from_zero(), StreamReset)

        await wait_until(pruned, 30, 0.1, "the retention sweeper pruning the log")
        async with contextlib.aclosing(client.events(last_event_id=0)) as events:
            reset = await anext(events)
            assert isinstance(reset, StreamReset) and reset.reason == "pruned"
            new = (await client.start_translation("en", "es", VIDEO))["job_id"]
            after: list[StreamEvent] = []
            while not finals(after) & {new}:
                after.append(await anext(events))
    # From the oldest event kept on: the rest of the old job's, if any (the sweeper
    # may prune them meanwhile: another reset), then the new one's.
    ids = [int(e.id) for e in after]
    assert ids == sorted(set(ids)) and ids[0] > int(reset.id)


async def test_client_events_reconnect_after_short_streams_with_the_last_id() -> None:
    """Against a stand-in server on loopback: streams that end at once do not use
    up the retries (each was answered), a 503 is retried, and every reconnect
    sends the last id yielded."""
    seen_ids: list[str | None] = []
    script = ["end", "end", "end", "503", "event 5", "event 6"]

    async def events(request: web.Request) -> web.StreamResponse:
        seen_ids.append(request.headers.get("Last-Event-ID"))
        step = script.pop(0) if script else "end"
        if step == "503":
            return web.Response(status=503, headers={"Retry-After": "0"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if step.startswith("event"):
            seq = step.split()[1]
            job = {"job_id": "j", "status": "pending", "version": int(seq)}
            await response.write(
                f"retry: 10\nid: {seq}\nevent: job\ndata: {json.dumps(job)}\n\n".encode()
            )
        return response

    app = web.Application()
    app.router.add_get("/events", events)
    async with (
        TestServer(app, host="127.0.0.1") as server,
        TranslationClient(
            str(server.make_url("")), max_retries=2, retry_delay=0.01
        ) as client,
        contextlib.aclosing(client.events(last_event_id=3)) as stream,
    ):
        got = []
        async for event in stream:
            got.append(event)
            if len(got) == 2:
                break
    assert [e.id for e in got] == ["5", "6"]
    assert seen_ids == ["3", "3", "3", "3", "3", "5"]
