"""A failed webhook attempt's error (logged, and shown in GET .../deliveries) never
carries the token a receiver's URL holds in its query or user info."""

from __future__ import annotations

import aiohttp
import pytest

from vts.webhooks.post import post


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/hook?token=TOPSECRET",  # aiohttp: invalid URL
        "ftp://user:TOPSECRET@127.0.0.1/hook",  # aiohttp: not an HTTP URL
    ],
)
async def test_an_attempt_error_leaves_the_urls_credentials_out(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        attempt = await post(
            session,
            url,
            "msg_1",
            b"{}",
            ["whsec_AAAA"],
            1,
            timeout=1.0,
            allow_private=True,
        )
    assert attempt.status is None and attempt.error is not None
    assert "127.0.0.1" in attempt.error  # still says where it went
    assert "TOPSECRET" not in attempt.error
