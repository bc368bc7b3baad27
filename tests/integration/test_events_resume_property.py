"""Hypothesis, over HTTP: for random interleavings of job changes and of consumers
reading, disconnecting and resuming with Last-Event-ID, each consumer's concatenated
stream is exactly the committed sequence of the log. The consumers' streams are open
at once, so those woken together at one cursor share their reads of the log."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from _sse import Event, EventReader
from _support import instant_settings
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vts.app import create_app
from vts.keys import store_key

SEED = {
    "source_language": "en",
    "target_language": "es",
    "metadata": {"video_url": "https://example.com/video.mp4"},
}

CONSUMERS = 3
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("create"), st.just(0), st.just(0)),
        st.tuples(st.just("cancel"), st.integers(0, 7), st.just(0)),
        st.tuples(st.just("read"), st.integers(1, 4), st.integers(0, CONSUMERS - 1)),
        st.tuples(st.just("reconnect"), st.just(0), st.integers(0, CONSUMERS - 1)),
    ),
    max_size=25,
)


class Consumer:
    """A client that reads the stream a few events at a time and may drop it."""

    def __init__(self, client: TestClient) -> None:  # type: ignore[type-arg]
        self.client = client
        self.seen: list[Event] = []
        self._response: aiohttp.ClientResponse | None = None
        self._reader: EventReader | None = None

    async def read(self, count: int) -> None:
        """Read `count` events, or as many as are committed after the last seen."""
        after = self.seen[-1].seq if self.seen else 0
        logged = await self.client.server.app[store_key].events_after(
            None, after, None, count
        )
        if self._reader is None:
            cursor = {"Last-Event-ID": str(after)}
            self._response = await self.client.get("/events", headers=cursor)
            assert self._response.status == 200
            self._reader = EventReader(self._response)
        for _ in logged:
            event = await self._reader.next()
            assert event is not None
            self.seen.append(event)

    def drop(self) -> None:
        if self._response is not None:
            self._response.close()
        self._response = self._reader = None


async def _play(steps: list[tuple[str, int, int]], directory: Path) -> None:
    app = create_app(instant_settings(directory / "vts.db"), workers=False)
    async with TestClient(TestServer(app, host="127.0.0.1")) as client:
        consumers = [Consumer(client) for _ in range(CONSUMERS)]
        job_ids: list[str] = []
        for kind, number, which in steps:
            consumer = consumers[which]
            if kind == "create":
                async with client.post("/translate", json=SEED) as response:
                    job_ids.append((await response.json())["job_id"])
            elif kind == "cancel" and job_ids:
                job_id = job_ids[number % len(job_ids)]
                async with client.post(f"/jobs/{job_id}/cancel") as response:
                    assert response.status in (200, 409)
            elif kind == "read":
                await consumer.read(number)
            elif kind == "reconnect":
                consumer.drop()
        for consumer in consumers:
            await consumer.read(10_000)  # live ones go on, dropped ones resume
            consumer.drop()
        logged = await app[store_key].events_after(None, 0, None, 10_000)
    for consumer in consumers:
        assert [(e.seq, e.event, e.data.encode()) for e in consumer.seen] == [
            (seq, "job", snapshot.body) for seq, snapshot in logged
        ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_resumed_streams_concatenate_to_the_committed_sequence(
    steps: list[tuple[str, int, int]],
) -> None:
    with tempfile.TemporaryDirectory(prefix="vts-sse-") as directory:
        asyncio.run(_play(steps, Path(directory)))


def test_the_property_sees_a_resume_in_the_middle(tmp_path: Any) -> None:
    """One fixed interleaving, so a failure names it plainly."""
    steps = [("create", 0, 0), ("read", 1, 0), ("reconnect", 0, 0), ("create", 0, 0)]
    steps += [("cancel", 0, 0), ("read", 2, 0), ("create", 0, 0), ("reconnect", 0, 0)]
    asyncio.run(_play(steps, tmp_path))


def test_the_property_sees_streams_at_one_cursor_and_one_behind(tmp_path: Any) -> None:
    """Two streams live at the same cursor, a third resuming behind them."""
    steps = [("read", 1, 0), ("read", 1, 1), ("create", 0, 0), ("read", 1, 0)]
    steps += [("create", 0, 0), ("read", 1, 2), ("cancel", 0, 0), ("read", 3, 1)]
    asyncio.run(_play(steps, tmp_path))
