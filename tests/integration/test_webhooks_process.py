"""Webhooks from real `vts serve` processes: a `kill -9` loses no message (the outbox
is in the store), and two replicas on Postgres deliver each message once."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from _postgres import PostgresServer
from _process import SEED_BODY, VtsProcess
from _servers import RedisServer
from _webhooks import Receiver

WEBHOOK_ENV = {
    "VTS_WEBHOOK_ALLOW_PRIVATE": "true",
    "VTS_SIM_DURATION": "0",
    "VTS_SIM_ERROR_RATE": "0",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def add_endpoint(
    http: aiohttp.ClientSession, vts: VtsProcess, url: str
) -> dict[str, Any]:
    body = {"url": url, "events": ["job.completed"]}
    async with http.post(f"{vts.url}/webhooks", json=body) as response:
        assert response.status == 201, await response.text()
        made: dict[str, Any] = await response.json()
        return made


async def deliveries(
    http: aiohttp.ClientSession, vts: VtsProcess, endpoint_id: str
) -> list[dict[str, Any]]:
    path = f"{vts.url}/webhooks/{endpoint_id}/deliveries"
    async with http.get(path, params={"limit": "100"}) as response:
        assert response.status == 200, await response.text()
        found: list[dict[str, Any]] = (await response.json())["deliveries"]
        return found


async def submit(http: aiohttp.ClientSession, vts: VtsProcess) -> str:
    async with http.post(f"{vts.url}/translate", json=SEED_BODY) as response:
        assert response.status == 202, await response.text()
        return str((await response.json())["job_id"])


async def test_a_message_pending_at_kill_9_is_delivered_after_the_restart(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    port = free_port()  # the receiver is not listening yet: every attempt fails
    env = {
        **WEBHOOK_ENV,
        "VTS_WEBHOOK_RETRY_SCHEDULE": ",".join(["0.2s"] * 50),
        "VTS_WEBHOOK_TIMEOUT": "1s",
    }
    first = await VtsProcess(tmp_path, env).start()
    try:
        made = await add_endpoint(http, first, f"http://127.0.0.1:{port}/hook")
        job_id = await submit(http, first)

        async def failed_once() -> bool:
            found = await deliveries(http, first, made["id"])
            return bool(found) and found[0]["attempts"] >= 1

        await first.until(failed_once, 15, "a failed attempt recorded")
        first.kill()
        assert await first.wait(10) < 0
    finally:
        first.close()

    receiver = await Receiver().start(port)
    receiver.secret = made["secret"]
    try:
        async with VtsProcess(tmp_path, env) as second:
            (got,) = await receiver.wait_for(1)
            assert got.error is None, got.error
            assert got.payload["type"] == "job.completed"  # type: ignore[index]
            assert got.payload["data"]["job_id"] == job_id  # type: ignore[index]

            async def recorded() -> bool:
                (found,) = await deliveries(http, second, made["id"])
                return found["status"] == "succeeded"

            await second.until(recorded, 15, "the delivery recorded")
            (found,) = await deliveries(http, second, made["id"])
            assert got.headers["webhook-id"] == found["id"]
            assert found["attempts"] >= 2
    finally:
        await receiver.stop()


async def test_sigterm_lets_an_attempt_in_flight_finish(
    tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    """A rolling deploy does not cut attempts short (which would send them again)."""
    gate = asyncio.Event()
    receiver = await Receiver(gate=gate).start()
    try:
        vts = await VtsProcess(tmp_path, WEBHOOK_ENV).start()
        try:
            made = await add_endpoint(http, vts, receiver.url)
            receiver.secret = made["secret"]
            await submit(http, vts)
            await receiver.wait_for(1)  # in flight: the receiver holds it
            vts.terminate()
            await vts.until(
                lambda: "attempts in flight" in vts.logs(), 15, "the sender waiting"
            )
            gate.set()
            assert await vts.wait(15) == 0
        finally:
            vts.close()
        async with VtsProcess(tmp_path, WEBHOOK_ENV) as again:
            (found,) = await deliveries(http, again, made["id"])
        assert (found["status"], found["attempts"]) == ("succeeded", 1)
        assert len(receiver.received) == 1
    finally:
        gate.set()
        await receiver.stop()


@pytest.mark.services
async def test_two_replicas_deliver_each_message_once(
    tmp_path: Path,
    http: aiohttp.ClientSession,
    postgres_server: PostgresServer,
    redis_server: RedisServer,
) -> None:
    redis_server.flushdb()
    env = {
        **WEBHOOK_ENV,
        "VTS_DATABASE_URL": postgres_server.create_database(
            f"hooks_{uuid.uuid4().hex}"
        ),
        "VTS_REDIS_URL": redis_server.url,
    }
    receiver = await Receiver().start()
    try:
        async with VtsProcess(tmp_path, env) as a, VtsProcess(tmp_path, env) as b:
            made = await add_endpoint(http, a, receiver.url)
            receiver.secret = made["secret"]
            jobs = [await submit(http, (a, b)[n % 2]) for n in range(20)]
            got = await receiver.wait_for(len(jobs), timeout=30)

            async def all_recorded() -> bool:
                found = await deliveries(http, b, made["id"])
                return len(found) == len(jobs) and all(
                    d["status"] == "succeeded" for d in found
                )

            await b.until(all_recorded, 15, "every delivery recorded")
            found = await deliveries(http, a, made["id"])
        assert [r.error for r in receiver.received] == [None] * len(jobs)
        assert len(receiver.received) == len(jobs)
        payloads: list[Any] = [r.payload for r in got]
        assert Counter(p["data"]["job_id"] for p in payloads) == Counter(jobs)
        assert {d["attempts"] for d in found} == {1}
        assert {r.headers["webhook-id"] for r in got} == {d["id"] for d in found}
    finally:
        await receiver.stop()
