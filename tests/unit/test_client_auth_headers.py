"""Which API key a client sends, and the headers that carry it: pure logic."""

from __future__ import annotations

import asyncio
import sys

import aiohttp
import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from translation_client import TranslationClient, TransportError, __version__
from translation_client._auth import (
    USER_AGENT,
    Secret,
    default_headers,
    resolve_api_key,
)
from translation_client._watch import WatchHub
from yarl import URL

KEY = "vts_abc123_" + "x" * 43


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        (KEY, {}, KEY),
        (None, {"VTS_API_KEY": KEY}, KEY),
        ("other", {"VTS_API_KEY": KEY}, "other"),  # an argument wins
        (None, {"VTS_API_KEY": f"  {KEY}\n"}, KEY),  # a Secret file's newline
        ("", {"VTS_API_KEY": KEY}, None),  # "" turns the environment's key off
        (None, {}, None),
        (None, {"VTS_API_KEY": "  "}, None),
    ],
)
def test_client_api_key_comes_from_the_argument_else_the_environment(
    given: str | None, environ: dict[str, str], expected: str | None
) -> None:
    assert resolve_api_key(given, environ) == expected


@pytest.mark.parametrize(
    "bad", [f"{KEY}\r\nX-Evil: 1", f"{KEY} extra", f"{KEY}\x00", f"{KEY}é"]
)
def test_client_api_key_that_cannot_be_a_header_is_refused_without_quoting_it(
    bad: str,
) -> None:
    with pytest.raises(ValueError) as caught:
        resolve_api_key(bad, {})
    assert KEY not in str(caught.value)
    with pytest.raises(ValueError):
        TranslationClient("http://127.0.0.1:1", api_key=bad)


def test_client_headers_carry_a_bearer_key_only_when_there_is_one() -> None:
    assert default_headers(Secret(KEY))["Authorization"] == f"Bearer {KEY}"
    assert "Authorization" not in default_headers(None)
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert USER_AGENT.startswith(f"vts-client/{__version__} (python {version}; ")
    assert default_headers(None)["User-Agent"] == USER_AGENT


def test_client_repr_never_shows_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VTS_API_KEY", KEY)
    client = TranslationClient("http://127.0.0.1:1")
    assert repr(client) == "<TranslationClient 'http://127.0.0.1:1'>"
    assert KEY not in repr(vars(client)) and KEY not in repr(vars(client._http))
    assert KEY not in f"{Secret(KEY)} {Secret(KEY)!r}"


async def test_client_watch_that_crashes_never_quotes_the_request_headers() -> None:
    url = URL("http://127.0.0.1:1/ws/jobs")
    sent = CIMultiDictProxy(CIMultiDict({"Authorization": f"Bearer {KEY}"}))
    info = aiohttp.RequestInfo(url, "GET", sent, url)
    crash = aiohttp.ClientResponseError(info, (), status=500, message="boom")
    assert KEY in repr(crash)  # what the hub must not pass on

    hub = WatchHub(
        aiohttp.ClientSession,
        str(url),
        heartbeat=5,
        max_retries=0,
        retry_delay=0,
        connect_timeout=1,
    )

    async def crashing() -> None:
        raise crash

    hub._connect_and_serve = crashing  # type: ignore[method-assign]
    sub = hub.subscribe("job-1")
    ended = await asyncio.wait_for(sub.get(), 10)
    assert isinstance(ended, TransportError)
    assert KEY not in str(ended) and KEY not in repr(ended)
    assert "ClientResponseError" in str(ended) and "boom" in str(ended)
    await hub.close()
