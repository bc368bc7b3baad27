"""The SSRF guard of webhook deliveries: https only, and only public addresses,
checked after DNS resolution on the addresses the connection then uses.

A name is resolved by GuardedResolver, which refuses the whole answer if any
address in it is not public (vts.addresses); aiohttp connects to the addresses the
resolver returned, so a second lookup that answers differently (DNS rebinding)
never takes place. aiohttp does not resolve IP literals, so `url_problem` checks
those before the request. VTS_WEBHOOK_ALLOW_PRIVATE=true lifts all of it.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from vts.addresses import non_public_kind


class BlockedAddressError(OSError):
    """The endpoint's host is not a public address (the SSRF guard)."""


def url_problem(url: str) -> str | None:
    """Why the guard refuses `url` before any lookup (not https, or an IP literal
    that is not public); None if it may be tried."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return "the URL is not https (set VTS_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
    try:
        address = ipaddress.ip_address((parts.hostname or "").strip("[]"))
    except ValueError:
        return None  # a name: GuardedResolver checks what it resolves to
    return _address_problem(parts.hostname or "", address)


def _address_problem(
    host: str, address: ipaddress.IPv4Address | ipaddress.IPv6Address
) -> str | None:
    kind = non_public_kind(address)
    if kind is None:
        return None
    return (
        f"{host} resolves to {address}, a {kind} address, not a public one "
        "(set VTS_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
    )


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing any answer with an address that is not public."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        for answer in answers:
            problem = _address_problem(host, ipaddress.ip_address(answer["host"]))
            if problem is not None:
                raise BlockedAddressError(problem)
        return answers

    async def close(self) -> None:
        await self._resolver.close()
