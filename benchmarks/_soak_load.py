"""The soak's client: open-loop submissions that retry as a real client would, one
reconnecting watcher, and polls of the jobs the watcher has not seen finish."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson

FINAL = frozenset({"completed", "failed", "cancelled"})
# Answers a client retries (a replica restarting, a proxy in between); any other
# non-202 is a refusal the soak reports.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10)
GIVE_UP_SECONDS = 120.0
SUBSCRIBE_CHUNK = 1000  # the server's limit per subscribe message
HEADERS = {"Content-Type": "application/json"}


@dataclass
class Submission:
    """One logical job: its Idempotency-Key, its POST attempts, the 202 it got."""

    key: str
    started: float  # monotonic, first attempt
    started_wall: float
    tries: int = 0
    accepted: float | None = None  # monotonic, when the 202 arrived
    job_id: str | None = None
    replayed: bool = False  # the 202 carried Idempotent-Replayed: true
    refused: str | None = None  # a non-retryable answer, or "gave up"


@dataclass
class Sighting:
    """What the watcher (or a poll) saw of one job."""

    version: int = 0
    job: dict[str, Any] = field(default_factory=dict)  # the newest snapshot
    final_at: float | None = None  # monotonic: the watcher's first final status
    finals: set[tuple[int, str]] = field(default_factory=set)  # (version, status)

    @property
    def final(self) -> bool:
        return self.job.get("status") in FINAL


class Ledger:
    """Everything the client side observed, keyed by Idempotency-Key and job id."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.t0_wall = time.time()
        self.submissions: list[Submission] = []
        self.sightings: dict[str, Sighting] = {}
        self.not_found: set[str] = set()  # job-not-found answers to a subscribe
        self.ws_errors: collections.Counter[str] = collections.Counter()
        self.watcher_connects: list[tuple[float, str]] = []  # (seconds in, url)
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.connected_at = 0.0  # monotonic: when `ws` connected
        self._sends: set[asyncio.Task[None]] = set()

    def see(self, job: dict[str, Any], *, watched: bool) -> None:
        sighting = self.sightings.setdefault(job["job_id"], Sighting())
        version, status = job["version"], job["status"]
        if status in FINAL:
            sighting.finals.add((version, status))
            if watched and sighting.final_at is None:
                sighting.final_at = time.monotonic()
        if version > sighting.version:
            sighting.version, sighting.job = version, job

    def accepted_late(self, sub: Submission) -> None:
        """A job first POSTed before the watcher's connection began (a POST retried
        across a restart) may have changed before it: subscribe to its snapshot."""
        if self.ws is None or sub.started >= self.connected_at or sub.job_id is None:
            return
        message = orjson.dumps({"type": "subscribe", "job_ids": [sub.job_id]})
        task = asyncio.ensure_future(_send(self.ws, message))
        self._sends.add(task)
        task.add_done_callback(self._sends.discard)

    def accepted(self) -> list[Submission]:
        return [s for s in self.submissions if s.job_id is not None]

    def unfinished(self) -> list[str]:
        """Accepted job ids not yet seen in a final status."""
        ids = []
        for sub in self.accepted():
            assert sub.job_id is not None
            sighting = self.sightings.get(sub.job_id)
            if sighting is None or not sighting.final:
                ids.append(sub.job_id)
        return ids


async def _send(ws: aiohttp.ClientWebSocketResponse, message: bytes) -> None:
    with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
        await ws.send_str(message.decode())  # text frames: vts refuses binary ones


def _body(key: str) -> bytes:
    # The key rides in the metadata too, so the audit can group stored jobs by it.
    return orjson.dumps(
        {
            "source_language": "en",
            "target_language": "es",
            "metadata": {"video_url": "https://example.com/video.mp4", "soak_key": key},
        }
    )


async def submit(
    session: aiohttp.ClientSession,
    urls: Callable[[], Sequence[str]],
    ledger: Ledger,
    sub: Submission,
    rng: random.Random,
) -> None:
    """POST until a 202 (retrying transport errors and RETRY_STATUSES with backoff,
    on any replica), a refusal, or GIVE_UP_SECONDS."""
    body, delay = _body(sub.key), 0.05
    headers = {**HEADERS, "Idempotency-Key": sub.key}
    while True:
        sub.tries += 1
        url = rng.choice(urls())
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            async with session.post(
                f"{url}/translate", data=body, headers=headers, timeout=REQUEST_TIMEOUT
            ) as response:
                payload = await response.read()
                if response.status == 202:
                    sub.accepted = time.monotonic()
                    sub.job_id = orjson.loads(payload)["job_id"]
                    sub.replayed = "Idempotent-Replayed" in response.headers
                    ledger.accepted_late(sub)
                    return
                if response.status not in RETRY_STATUSES:
                    sub.refused = f"{response.status} {payload[:200]!r}"
                    return
        if time.monotonic() - sub.started > GIVE_UP_SECONDS:
            sub.refused = f"gave up after {sub.tries} tries"
            return
        await asyncio.sleep(delay * rng.uniform(0.5, 1.5))
        delay = min(delay * 2, 1.0)


async def offer(
    session: aiohttp.ClientSession,
    urls: Callable[[], Sequence[str]],
    ledger: Ledger,
    rate: float,
    seconds: float,
    rng: random.Random,
) -> list[asyncio.Task[None]]:
    """Start one submission every 1/rate seconds for `seconds` (open loop: a slow
    answer never delays the next job); returns the submissions' tasks."""
    tasks = []
    start = time.monotonic()
    for index in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
        sub = Submission(
            str(uuid.UUID(int=rng.getrandbits(128))), time.monotonic(), time.time()
        )
        ledger.submissions.append(sub)
        tasks.append(asyncio.create_task(submit(session, urls, ledger, sub, rng)))
    return tasks


async def watch(
    session: aiohttp.ClientSession,
    ws_urls: Callable[[], Sequence[str]],
    ledger: Ledger,
    rng: random.Random,
) -> None:
    """One /ws/jobs?all=true watcher, reconnecting to any replica when its replica
    goes; after each (re)connect it subscribes to every unfinished accepted job, whose
    snapshot then arrives first, so a change missed while away is caught up."""
    while True:
        url = rng.choice(ws_urls())
        with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
            async with session.ws_connect(
                f"{url}/ws/jobs?all=true", heartbeat=5.0
            ) as ws:
                ledger.watcher_connects.append((time.monotonic() - ledger.t0, url))
                ledger.ws, ledger.connected_at = ws, time.monotonic()
                ids = ledger.unfinished()
                for start in range(0, len(ids), SUBSCRIBE_CHUNK):
                    chunk = ids[start : start + SUBSCRIBE_CHUNK]
                    await ws.send_str(
                        orjson.dumps({"type": "subscribe", "job_ids": chunk}).decode()
                    )
                async for msg in ws:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    _on_message(ledger, orjson.loads(msg.data))
        ledger.ws = None
        await asyncio.sleep(0.2)


def _on_message(ledger: Ledger, data: dict[str, Any]) -> None:
    if data.get("type") == "job":
        ledger.see(data, watched=True)
    elif data.get("type") == "error":
        ledger.ws_errors[str(data.get("code"))] += 1
        if data.get("code") == "job-not-found":
            ledger.not_found.add(data.get("job_id", ""))
