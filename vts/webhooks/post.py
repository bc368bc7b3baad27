"""One attempt of one delivery: the signed POST, and what came of it."""

from __future__ import annotations

from urllib.parse import urlsplit

import aiohttp

from vts.webhooks import signing
from vts.webhooks.model import RESPONSE_KEEP_BYTES, Attempt
from vts.webhooks.ssrf import BlockedAddressError, url_problem


async def post(
    session: aiohttp.ClientSession,
    url: str,
    message_id: str,
    payload: bytes,
    secrets: list[str],
    timestamp: int,
    *,
    timeout: float,
    allow_private: bool,
) -> Attempt:
    """POST `payload` signed with `secrets` at `timestamp` (unix seconds). Redirects
    are not followed (a 3xx is a failed attempt), and only the first KiB of the
    answer is read. Never raises for what the receiver or the network does."""
    if not allow_private:
        problem = url_problem(url)
        if problem is not None:
            return Attempt(None, error=f"refused: {problem}")
    headers = signing.headers(secrets, message_id, timestamp, payload)
    try:
        async with session.post(
            url,
            data=payload,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
            allow_redirects=False,
        ) as response:
            head = await response.content.read(RESPONSE_KEEP_BYTES)
            return Attempt(
                response.status,
                response=head.decode("utf-8", errors="replace"),
                retry_after_header=response.headers.get("Retry-After"),
            )
    except aiohttp.ClientConnectorError as exc:
        if isinstance(exc.os_error, BlockedAddressError):
            return Attempt(None, error=f"refused: {exc.os_error}")
        return Attempt(None, error=f"could not connect: {exc.os_error}")
    except TimeoutError:
        return Attempt(None, error=f"no answer within {timeout:g}s")
    except aiohttp.ClientError as exc:
        # Some of aiohttp's errors quote the URL, whose query or user info may hold
        # the receiver's token: logged and stored without them.
        message = str(exc).replace(url, without_credentials(url))
        return Attempt(None, error=f"{type(exc).__name__}: {message}")


def without_credentials(url: str) -> str:
    """`url` with no user info, query or fragment: safe for a log line."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{host}{parts.path}"
