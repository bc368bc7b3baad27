"""Which IP addresses are public: what a request on a user's behalf may reach.

Shared by the video URL rules (vts.api.urls) and the webhook SSRF guard
(vts.webhooks.ssrf): one definition of "not this machine, its network or the
cloud's metadata service".
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
_SHARED_NAT = ipaddress.IPv4Network("100.64.0.0/10")


def non_public_kind(address: Address) -> str | None:
    """What kind of non-public address this is; None for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is not None:  # it is that IPv4 address on a dual-stack socket
            return non_public_kind(embedded)
        if address.sixtofour is not None:
            kind = non_public_kind(address.sixtofour)
            if kind is not None:
                return f"6to4-wrapped {kind}"
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("shared (carrier-grade NAT)", address in _SHARED_NAT),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved or not address.is_global),
    ):
        if test:
            return kind
    return None
