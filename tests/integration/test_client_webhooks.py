"""The client's webhook API and `vts-client webhooks` against a real server, with a
real receiver checking deliveries through translation_client.webhooks.verify."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from _process import VtsProcess
from _proxy import TcpProxy
from _webhooks import Receiver
from translation_client import (
    IdempotencyKeyReusedError,
    NotFoundError,
    TranslationClient,
    ValidationError,
    webhooks,
)

ENV = {
    "VTS_WEBHOOK_ALLOW_PRIVATE": "true",
    "VTS_SIM_DURATION": "0",
    "VTS_SIM_ERROR_RATE": "0",
}


async def test_the_client_manages_endpoints_and_reads_deliveries(
    app_server: object,
) -> None:
    receiver = await Receiver().start()
    try:
        server = await app_server(webhook_allow_private=True)  # type: ignore[operator]
        url = str(server.make_url("")).rstrip("/")
        async with TranslationClient(url) as client:
            with pytest.raises(ValidationError) as refused:
                await client.webhooks.create("ftp://nowhere", ["job.completed"])
            assert "url" in refused.value.errors
            made = await client.webhooks.create(receiver.url, ["job.completed"], "mine")
            receiver.secret = made["secret"]
            assert [e["id"] for e in await client.webhooks.list()] == [made["id"]]
            created = await client.start_translation(
                "en", "es", {"video_url": "https://example.com/v.mp4"}
            )
            (got,) = await receiver.wait_for(1)
            payload = webhooks.verify(got.body, got.headers, made["secret"])
            assert payload["data"]["job_id"] == created["job_id"]
            rotated = await client.webhooks.rotate_secret(made["id"])
            assert rotated["secret"] != made["secret"]
            (delivery,) = await client.webhooks.deliveries(made["id"])
            assert delivery["id"] == got.headers["webhook-id"]
            await client.webhooks.delete(made["id"])
            with pytest.raises(NotFoundError):
                await client.webhooks.get(made["id"])
    finally:
        await receiver.stop()


async def test_a_create_whose_answer_was_lost_makes_one_endpoint(
    app_server: object,
) -> None:
    """The first POST /webhooks is done but its answer lost; the client's retry
    carries the same Idempotency-Key, so it gets that endpoint and its secret."""
    server = await app_server()  # type: ignore[operator]
    hook = "https://hooks.example.com/in"
    async with (
        TcpProxy(server.make_url("").port) as proxy,
        TranslationClient(proxy.url, retry_delay=0.05) as client,
    ):
        proxy.drop_answers = 1
        made = await client.webhooks.create(hook, ["job.completed"])
        (lost,) = proxy.dropped
        assert lost.startswith(b"HTTP/1.1 201"), lost  # the first attempt made it
        assert json.loads(lost.partition(b"\r\n\r\n")[2]) == made
        assert [e["id"] for e in await client.webhooks.list()] == [made["id"]]
        # A key of the caller's own: the same request again is the same endpoint.
        mine = await client.webhooks.create(hook, idempotency_key="hook-7")
        assert await client.webhooks.create(hook, idempotency_key="hook-7") == mine
        with pytest.raises(IdempotencyKeyReusedError):
            await client.webhooks.create(hook, ["job.failed"], idempotency_key="hook-7")
        assert len(await client.webhooks.list()) == 2


async def cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`vts-client --url URL --json ARGS`, off the event loop (the receiver's)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "translation_client", "--url", url, "--json", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
async def test_cli_webhooks_create_list_deliveries_delete(tmp_path: Path) -> None:
    receiver = await Receiver().start()
    try:
        async with VtsProcess(tmp_path, ENV) as vts:
            run = await cli(
                vts.url, "webhooks", "create", receiver.url, "--event", "job.completed"
            )
            assert run.returncode == 0, run.stderr
            made = json.loads(run.stdout)
            receiver.secret = made["secret"]
            assert made["events"] == ["job.completed"]
            run = await cli(vts.url, "webhooks", "list")
            assert [e["id"] for e in json.loads(run.stdout)] == [made["id"]]
            async with TranslationClient(vts.url) as client:
                await client.start_translation(
                    "en", "es", {"video_url": "https://example.com/v.mp4"}
                )
            (got,) = await receiver.wait_for(1)
            assert got.error is None
            run = await cli(vts.url, "webhooks", "deliveries", made["id"])
            assert run.returncode == 0, run.stderr
            assert [d["id"] for d in json.loads(run.stdout)] == [
                got.headers["webhook-id"]
            ]
            run = await cli(vts.url, "webhooks", "delete", made["id"])
            assert run.returncode == 0, run.stderr
            run = await cli(vts.url, "webhooks", "delete", made["id"])
            assert run.returncode == 2 and "no webhook endpoint" in run.stderr
            run = await cli(
                vts.url, "webhooks", "create", "http://x", "--event", "job.nope"
            )
            assert run.returncode == 2 and "events" in run.stderr
    finally:
        await receiver.stop()
