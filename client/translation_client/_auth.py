"""The API key and the identifying headers every request of a client carries."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import Final

import aiohttp

from translation_client._version import __version__

API_KEY_VARIABLE: Final = "VTS_API_KEY"
"""The environment variable an API key is read from when none is given."""

USER_AGENT: Final = (
    f"vts-client/{__version__} (python {sys.version_info[0]}.{sys.version_info[1]};"
    f" aiohttp {aiohttp.__version__})"
)
"""Names the client and its version in every request, so server logs can tell
clients apart (and a misbehaving version can be found)."""

TENANT_HEADER: Final = "VTS-Tenant"
"""An admin key acting for a tenant names it in this header."""


class Secret:
    """A value that shows as `***` in repr(), str(), vars() dumps and tracebacks
    with locals; `reveal()` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def resolve_api_key(
    api_key: str | None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The key to send: `api_key`, else VTS_API_KEY, else None (send none).

    Surrounding whitespace is dropped (a key read from a file or a Kubernetes Secret
    often ends with a newline); an empty key means none, so `api_key=""` turns the
    environment's key off. ValueError for a key that cannot be a header value; the
    message never quotes the key.
    """
    if api_key is None:
        api_key = (os.environ if environ is None else environ).get(API_KEY_VARIABLE)
    key = (api_key or "").strip()
    if not key:
        return None
    if not key.isascii() or not key.isprintable() or any(c.isspace() for c in key):
        raise ValueError(
            "the API key has spaces, control or non-ASCII characters: "
            f"is {API_KEY_VARIABLE} (or api_key) really a vts API key?"
        )
    return key


def default_headers(api_key: Secret | None) -> dict[str, str]:
    """The headers of every request and WebSocket upgrade of one client."""
    headers = {
        "Accept": "application/json, application/problem+json",
        "User-Agent": USER_AGENT,
    }
    if api_key is not None:
        headers["Authorization"] = f"Bearer {api_key.reveal()}"
    return headers
