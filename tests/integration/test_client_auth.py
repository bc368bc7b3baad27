"""The client's side of API keys, against a real server speaking the auth contract.

vts's own auth lands separately; `_auth_server.AuthServer` is a real aiohttp server on
a loopback port that checks the header and answers 401/403 problem+json as the
contract says, so these tests see the bytes the client really sends and receives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator

import pytest
from _auth_server import ADMIN, READ, WRITE, AuthServer, auth_server
from translation_client import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    SyncTranslationClient,
    TranslationClient,
    TranslationClientError,
    __version__,
)

KEY = "vts_k1_" + "s" * 43
READER = "vts_k2_" + "r" * 43
ADMIN_KEY = "vts_k3_" + "a" * 43
DLQ_ONLY = "vts_k4_" + "d" * 43
VIDEO = {"video_url": "https://example.com/video.mp4"}


@pytest.fixture
async def server() -> AsyncIterator[AuthServer]:
    keys = {KEY: {READ, WRITE}, READER: {READ}, ADMIN_KEY: {ADMIN}, DLQ_ONLY: {"dlq"}}
    async with auth_server(keys) as running:
        yield running


def sent(server: AuthServer, path: str) -> list[dict[str, str]]:
    return [headers for _, p, headers in server.requests if p == path]


async def test_client_sends_the_key_on_rest_and_on_the_websocket_upgrade(
    server: AuthServer,
) -> None:
    async with TranslationClient(server.url, api_key=KEY) as client:
        created = await client.start_translation("en", "es", VIDEO)
        job = await client.wait_for_completion(created["job_id"], timeout=30)
        assert (await client.get_job(job["job_id"]))["status"] == "completed"
    assert job["status"] == "completed"
    for path in ("/translate", "/ws/jobs", f"/jobs/{job['job_id']}"):
        headers = sent(server, path)
        assert headers, f"nothing reached {path}"
        assert {h["Authorization"] for h in headers} == {f"Bearer {KEY}"}, path
    assert "Upgrade" in sent(server, "/ws/jobs")[0]


async def test_client_reads_vts_api_key_and_an_empty_key_sends_none(
    server: AuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VTS_API_KEY", f"{KEY}\n")  # as read from a Secret file
    async with TranslationClient(server.url) as client:
        await client.start_translation("en", "es", VIDEO)
    assert sent(server, "/translate")[-1]["Authorization"] == f"Bearer {KEY}"
    async with TranslationClient(server.url, api_key="") as client:
        with pytest.raises(AuthenticationError):
            await client.start_translation("en", "es", VIDEO)
    assert "Authorization" not in sent(server, "/translate")[-1]


async def test_client_missing_or_bad_key_is_401_authentication_error_not_retried(
    server: AuthServer,
) -> None:
    for key, detail in (("", "no API key"), ("vts_k9_wrong", "invalid API key")):
        server.requests.clear()
        async with TranslationClient(
            server.url, api_key=key, max_retries=3, retry_delay=0.01
        ) as client:
            with pytest.raises(AuthenticationError) as caught:
                await client.start_translation("en", "es", VIDEO)
        error = caught.value
        assert (error.status, error.code, error.detail) == (401, "unauthorized", detail)
        assert len(server.requests) == 1, "a 401 must not be retried"


async def test_client_key_without_the_scope_is_403_permission_denied_not_retried(
    server: AuthServer,
) -> None:
    async with TranslationClient(server.url, api_key=READER, max_retries=3) as client:
        with pytest.raises(PermissionDeniedError) as caught:
            await client.start_translation("en", "es", VIDEO)
        assert caught.value.status == 403
        assert "jobs:write" in caught.value.detail
        # Reading is in its scopes: the same key gets a plain 404 for an unknown job.
        with pytest.raises(NotFoundError):
            await client.get_job("00000000-0000-4000-8000-000000000000")
    assert [path for _, path, _ in server.requests] == [
        "/translate",
        "/jobs/00000000-0000-4000-8000-000000000000",
    ]


@pytest.mark.parametrize(
    ("key", "expected"),
    [("vts_k9_wrong", AuthenticationError), (DLQ_ONLY, PermissionDeniedError)],
    ids=["401", "403"],
)
async def test_client_websocket_refused_for_the_key_ends_waits_without_polling(
    server: AuthServer, key: str, expected: type[TranslationClientError]
) -> None:
    async with TranslationClient(server.url, api_key=KEY) as writer:
        job_id = (await writer.start_translation("en", "es", VIDEO))["job_id"]
    server.requests.clear()
    async with TranslationClient(server.url, api_key=key, retry_delay=0.01) as client:
        with pytest.raises(expected):
            await client.wait_for_completion(job_id, timeout=30)
    # One refused upgrade, and no fallback to polling GET /jobs/{id}.
    assert [path for _, path, _ in server.requests] == ["/ws/jobs"]


async def test_client_never_follows_a_redirect_to_another_origin_with_the_key(
    server: AuthServer,
) -> None:
    async with auth_server({}) as detour:
        detour.redirect_to = server.url  # another port: another origin
        async with TranslationClient(detour.url, api_key=KEY) as client:
            with pytest.raises(AuthenticationError):
                await client.get_job("some-job")
    assert sent(detour, "/jobs/some-job")[0]["Authorization"] == f"Bearer {KEY}"
    (followed,) = sent(server, "/jobs/some-job")
    assert "Authorization" not in followed


async def test_a_redirect_loop_error_holds_the_key_nowhere_in_its_chain() -> None:
    """An error can reach a log, an error tracker or a crash report with its whole
    chain of causes: none of them may carry the request's Authorization header."""
    async with auth_server({}) as loop:
        loop.redirect_to = loop.url  # to itself, for ever
        async with TranslationClient(loop.url, api_key=KEY, max_retries=0) as client:
            with pytest.raises(TranslationClientError) as caught:
                await client.get_job("some-job")
    assert len(sent(loop, "/jobs/some-job")) > 1, "the redirect was followed"
    error: BaseException | None = caught.value
    while error is not None:
        assert KEY not in repr(error) and KEY not in str(error), type(error)
        assert KEY not in repr(vars(error)), type(error)
        error = error.__cause__ or error.__context__


async def test_client_admin_key_creates_the_job_in_the_named_tenant(
    server: AuthServer,
) -> None:
    async with TranslationClient(server.url, api_key=ADMIN_KEY) as client:
        created = await client.start_translation("en", "es", VIDEO, tenant="team-a")
        job = await client.get_job(created["job_id"])
    assert job["tenant"] == "team-a"
    assert sent(server, "/translate")[-1]["VTS-Tenant"] == "team-a"


async def test_client_user_agent_names_the_client_and_its_version(
    server: AuthServer,
) -> None:
    async with TranslationClient(server.url, api_key=KEY) as client:
        job_id = (await client.start_translation("en", "es", VIDEO))["job_id"]
        await client.wait_for_completion(job_id, timeout=30)
    python = f"python {sys.version_info[0]}.{sys.version_info[1]}"
    for _, path, headers in server.requests:
        agent = headers["User-Agent"]
        assert agent.startswith(f"vts-client/{__version__} ({python};"), (path, agent)


async def test_sync_client_sends_the_key_on_rest_and_websocket(
    server: AuthServer,
) -> None:
    def use() -> str:
        with SyncTranslationClient(server.url, api_key=KEY) as client:
            assert KEY not in repr(client)
            job_id = client.start_translation("en", "es", VIDEO)["job_id"]
            return client.wait_for_completion(job_id, timeout=30)["status"]

    # The server runs on this loop: the blocking client must run on another thread.
    assert await asyncio.to_thread(use) == "completed"
    for path in ("/translate", "/ws/jobs"):
        assert sent(server, path)[-1]["Authorization"] == f"Bearer {KEY}"


async def test_client_key_never_in_repr_errors_or_logs(
    server: AuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    bad = "vts_k9_" + "z" * 43
    errors: list[BaseException] = []
    server.unavailable = 1  # one 503 first: the retry path logs
    async with TranslationClient(server.url, api_key=KEY, retry_delay=0) as client:
        assert KEY not in repr(client) and KEY not in repr(vars(client))
        await client.start_translation("en", "es", VIDEO)
        for call in (client.get_job, client.wait_for_completion):
            try:
                await call("no-such-job")
            except TranslationClientError as exc:
                errors.append(exc)
    async with TranslationClient(server.url, api_key=bad, retry_delay=0) as client:
        for refused in (
            client.start_translation("en", "es", VIDEO),
            client.wait_for_completion("no-such-job", timeout=30),
        ):
            try:
                await refused
            except TranslationClientError as exc:
                errors.append(exc)
    assert [type(e) for e in errors] == [
        NotFoundError,
        NotFoundError,
        AuthenticationError,
        AuthenticationError,
    ]
    assert any("retrying" in r.getMessage() for r in caplog.records)
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    for key in (KEY, bad):
        assert key not in logged
        for error in errors:
            chain: BaseException | None = error
            while chain is not None:
                assert key not in str(chain) and key not in repr(chain)
                chain = chain.__cause__ or chain.__context__


async def vts_client(
    server: AuthServer, *args: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the vts-client command line (its own process) against the server."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "translation_client",
        "--url",
        server.url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


SUBMIT = ("--json", "submit", "--source", "en", "--target", "es", "--video-url", "u")


async def test_cli_sends_api_key_from_the_option_or_the_environment(
    server: AuthServer,
) -> None:
    code, out, err = await vts_client(server, "--api-key", KEY, *SUBMIT, "--wait")
    assert code == 0, err
    assert json.loads(out)["status"] == "completed"
    code, out, err = await vts_client(server, *SUBMIT, env={"VTS_API_KEY": KEY})
    assert code == 0, err
    headers = sent(server, "/translate")
    assert [h["Authorization"] for h in headers] == [f"Bearer {KEY}"] * 2
    assert all(h["User-Agent"].startswith("vts-client/") for h in headers)


@pytest.mark.parametrize(
    ("args", "env", "status"),
    [
        ((), {}, 401),
        (("--api-key", "vts_k9_wrong"), {}, 401),
        ((), {"VTS_API_KEY": READER}, 403),
    ],
    ids=["no-key", "bad-key", "key-without-scope"],
)
async def test_cli_refused_key_exits_6_with_one_line(
    server: AuthServer, args: tuple[str, ...], env: dict[str, str], status: int
) -> None:
    code, out, err = await vts_client(server, *args, *SUBMIT, env=env)
    assert (code, out) == (6, "")
    assert err.startswith("vts-client: error: ") and err.count("\n") == 1
    assert f"(HTTP {status})" in err
    assert READER not in err and "vts_k9_wrong" not in err


async def test_cli_malformed_key_is_a_usage_error_that_does_not_echo_it(
    server: AuthServer,
) -> None:
    code, _, err = await vts_client(server, *SUBMIT, env={"VTS_API_KEY": "a b"})
    assert code == 2 and "API key" in err and "a b" not in err
    assert server.requests == []
