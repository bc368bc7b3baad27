"""The video URL rules: RFC 3986 grammar, no user info, and by default public hosts only.

"Public" means what a download on the server's behalf may safely reach: not this
machine, its network or the cloud's metadata service (server-side request forgery).
A host is refused when it is
- an IP literal, in any form a resolver or browser accepts (`127.1`, `0x7f.1`,
  `2130706433`, `[::ffff:127.0.0.1]`, percent-encoded or full-width digits), whose
  address is not globally routable: loopback, unspecified, private (RFC 1918,
  ULA fc00::/7), link-local (169.254/16 with 169.254.169.254, fe80::/10), shared
  carrier-grade NAT (100.64/10), documentation, benchmarking, multicast, reserved,
  or a 6to4 address embedding one of those;
- a name that only a local resolver answers: a single label (`metadata`, `redis`:
  resolved through the search domains), `localhost` and `*.localhost` (RFC 6761),
  `*.local` (mDNS), `*.internal` (private use; metadata.google.internal), `*.home.arpa`.
A public name can still resolve to a private address (DNS rebinding): a processor
that downloads must resolve the name and check the address it connects to.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import unquote, urlsplit

from vts.addresses import Address, non_public_kind

MAX_URL_LENGTH = 2048

# An http(s) URI by RFC 3986's grammar (section 3): only its characters, each "%"
# starting an escape, "[ ]" only around an IP literal, one "?" part, one "#" part.
# Non-ASCII must be percent-encoded, as browsers send it. No userinfo: a password
# in a URL is deprecated (section 3.2.1) and every reader of the job would see it.
# Shared with the OpenAPI document and the CRD, hence no regex flags: the scheme
# spells both cases.
_PCT = "%[0-9A-Fa-f]{2}"
_UNRESERVED_SUB = r"A-Za-z0-9\-._~!$&'()*+,;="
_PCHAR = rf"(?:[{_UNRESERVED_SUB}:@]|{_PCT})"
VIDEO_URL_PATTERN = (
    "^[Hh][Tt][Tt][Pp][Ss]?://"
    rf"(?:\[[0-9A-Fa-f:.]+\]|(?:[{_UNRESERVED_SUB}]|{_PCT})+)"  # host
    "(?::[0-9]*)?"  # port
    rf"(?:/{_PCHAR}*)*"  # path
    rf"(?:\?(?:{_PCHAR}|[/?])*)?"  # query
    rf"(?:#(?:{_PCHAR}|[/?])*)?$"  # fragment
)

USERINFO_PROBLEM = (
    "must not carry user info (user:password@): every reader of the job would see"
    " it; pass a token in a signed query string instead"
)
_ALLOW_HINT = "; set VTS_ALLOW_PRIVATE_URLS=true to allow it on a private network"
_LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
# What WHATWG's host parser refuses once percent escapes are decoded.
_FORBIDDEN_HOST_CHARS = frozenset(
    "\x7f #%/:<>?@[\\]^|" + "".join(map(chr, range(0x20)))
)
_DIGITS = frozenset("0123456789")


def userinfo_problem(value: str) -> str | None:
    """USERINFO_PROBLEM if the URL's authority has an `@` (user info), else None."""
    return USERINFO_PROBLEM if "@" in urlsplit(value).netloc else None


def host_problem(value: str) -> str | None:
    """Why the host of `value` (an http(s) URL that fits VIDEO_URL_PATTERN) is not
    public, or None if it is."""
    parts = urlsplit(value)
    raw_host = parts.hostname or ""
    if "[" in parts.netloc:  # an IP literal (RFC 3986 3.2.2): IPv6 here
        try:
            return _address_problem(ipaddress.IPv6Address(raw_host))
        except ValueError:  # Python < 3.11.4's urlsplit does not check it
            return "has a bracketed host that is not an IPv6 address"
    try:
        decoded = unquote(raw_host, errors="strict")
    except UnicodeDecodeError:
        return "has a host whose percent escapes are not UTF-8"
    # As a browser's host parser does (UTS 46 mapping): full-width letters and
    # digits become ASCII, ideographic full stops become dots.
    host = unicodedata.normalize("NFKC", decoded).casefold().replace("\u3002", ".")
    if _FORBIDDEN_HOST_CHARS.intersection(host):
        return "has a host with characters no resolver accepts"
    host = host.rstrip(".")  # "localhost." is localhost
    if _ends_in_number(host):
        address = _parse_ipv4(host)
        if address is None:
            return "has a host that ends in a number but is not an IPv4 address"
        return _address_problem(address)
    if "." not in host or host == "localhost" or host.endswith(_LOCAL_SUFFIXES):
        return (
            f"names {host!r}, a host only a local resolver knows (a single label,"
            " localhost, .local, .internal, .home.arpa)" + _ALLOW_HINT
        )
    return None


def _address_problem(address: Address) -> str | None:
    kind = non_public_kind(address)
    if kind is None:
        return None
    return f"names {address}, a {kind} address, not a public one" + _ALLOW_HINT


def _ends_in_number(host: str) -> bool:
    """WHATWG URL "ends in a number": then the whole host must be an IPv4 address."""
    last = host.rsplit(".", 1)[-1]
    if not last or last[0] not in _DIGITS:
        return False  # every number starts with a digit (0x too): names end here
    return (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None


def _ipv4_number(part: str) -> int | None:
    """One dotted part as inet_aton(3) and WHATWG read it: 0x hex, 0 octal, decimal."""
    digits, radix = part, 10
    if part[:2] in ("0x", "0X"):
        digits, radix = part[2:], 16
    elif len(part) > 1 and part[0] == "0":
        digits, radix = part[1:], 8
    if not digits:
        return 0 if radix == 16 else None
    allowed = {8: "01234567", 10: "0123456789"}.get(radix, "0123456789abcdefABCDEF")
    if not digits.isascii() or not all(c in allowed for c in digits):
        return None
    return int(digits, radix)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """`127.1`, `0x7f.0.0.1`, `2130706433` as the address resolvers make of them: up
    to four parts, the last one filling the remaining bytes."""
    parts = host.split(".")
    numbers = [_ipv4_number(part) for part in parts]
    if len(parts) > 4 or None in numbers:
        return None
    *leading, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in leading) or last >= 256 ** (4 - len(leading)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)
