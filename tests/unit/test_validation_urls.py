"""video_url rules in parse_job_request: no user info; by default public hosts only.

The ranges below are written out from the IANA special-purpose address registries
(RFC 6890 and successors), not taken from the ipaddress module the code uses, so a
test cannot agree with the code by construction.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vts.api.urls import VIDEO_URL_PATTERN
from vts.api.validation import parse_job_request
from vts.errors import ValidationError

FIELD = "metadata.video_url"

# Never globally reachable: each must be refused, in any spelling.
REFUSED_V4 = [
    "0.0.0.0/8",  # "this network", 0.0.0.0 included
    "10.0.0.0/8",
    "100.64.0.0/10",  # shared address space (carrier-grade NAT)
    "127.0.0.0/8",
    "169.254.0.0/16",  # link-local: 169.254.169.254 is the cloud metadata service
    "172.16.0.0/12",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, 255.255.255.255 included
]
REFUSED_V6 = [
    "::/128",
    "::1/128",
    "fc00::/7",  # unique local (fd00:ec2::254 is AWS's metadata service)
    "fe80::/10",
    "ff00::/8",
    "2001:db8::/32",
    "::/96",  # IPv4-compatible (deprecated): ::127.0.0.1
    "64:ff9b::/96",  # NAT64
]
# Every special-purpose block, refused or not: addresses outside all of them are public.
SPECIAL_V4 = [*REFUSED_V4, "192.0.0.0/24", "192.88.99.0/24"]
SPECIAL_V6 = [
    "::/8",
    "100::/8",
    "2001::/23",
    "2001:db8::/32",
    "2002::/16",
    "3fff::/20",
    "5f00::/16",
]
SIX_TO_FOUR = 0x2002 << 112
GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")


def _networks(cidrs: list[str]) -> list[Any]:
    return [ipaddress.ip_network(cidr) for cidr in cidrs]


def _inside(networks: list[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from(networks).flatmap(
        lambda net: st.integers(0, net.num_addresses - 1).map(
            lambda offset: net.network_address + offset
        )
    )


def _outside(special: list[Any], version: int) -> st.SearchStrategy[Any]:
    if version == 4:
        addresses = st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address)
    else:
        addresses = st.integers(0, 2**125 - 1).map(
            lambda n: GLOBAL_UNICAST_V6.network_address + n
        )
    return addresses.filter(lambda a: not any(a in net for net in special))


refused_v4 = _inside(_networks(REFUSED_V4))
refused_v6 = _inside(_networks(REFUSED_V6))
public_v4 = _outside(_networks(SPECIAL_V4), 4)
public_v6 = _outside(_networks(SPECIAL_V6), 6)


def _part(value: int, style: str) -> str:
    return {"dec": str(value), "hex": hex(value), "HEX": f"0X{value:X}"}.get(
        style, "0" + oct(value)[2:]
    )


@st.composite
def ipv4_hosts(draw: st.DrawFn, address: ipaddress.IPv4Address) -> str:
    """`address` spelt as inet_aton(3) and browsers read it: 1-4 parts, the last one
    filling the remaining bytes, each part decimal, hex or octal."""
    value = int(address)
    count = draw(st.integers(1, 4))
    parts = [(value >> (8 * (3 - i))) & 0xFF for i in range(count - 1)]
    parts.append(value & (2 ** (8 * (5 - count)) - 1))
    styles = st.sampled_from(["dec", "dec", "hex", "HEX", "oct"])
    host = ".".join(_part(p, draw(styles)) for p in parts)
    assert socket.inet_aton(host) == address.packed  # what a resolver makes of it
    return host + draw(st.sampled_from(["", "", "."]))


def _v6_host(address: ipaddress.IPv6Address) -> str:
    return f"[{address}]"


@st.composite
def urls(draw: st.DrawFn, host: str) -> str:
    """An http(s) URL around `host`, with or without a port and a path."""
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    port = draw(st.sampled_from(["", ":80", ":8080", ":"]))
    path = draw(st.sampled_from(["", "/", "/latest/meta-data/", "/v.mp4?x=1#t"]))
    url = f"{scheme}://{host}{port}{path}"
    assert re.fullmatch(VIDEO_URL_PATTERN, url), url
    return url


def refused(url: str, *, allow: bool = False) -> str | None:
    """The video_url's problem, or None if the body is accepted."""
    body = {
        "source_language": "en",
        "target_language": "es",
        "metadata": {"video_url": url},
    }
    try:
        request = parse_job_request(body, allow_private_urls=allow)
    except ValidationError as exc:
        assert list(exc.errors) == [FIELD], exc.errors
        return exc.errors[FIELD]
    assert request.metadata["video_url"] == url
    return None


non_public_hosts = (
    refused_v4.flatmap(ipv4_hosts)
    | refused_v6.map(_v6_host)
    | refused_v4.map(lambda a: f"[::ffff:{a}]")
    | refused_v4.map(lambda a: _v6_host(ipaddress.IPv6Address(0xFFFF << 32 | int(a))))
    | refused_v4.map(
        lambda a: _v6_host(ipaddress.IPv6Address(SIX_TO_FOUR | int(a) << 80))
    )
)


@given(url=non_public_hosts.flatmap(urls))
def test_non_public_address_in_any_spelling_is_refused(url: str) -> None:
    problem = refused(url)
    assert problem is not None, url
    assert "VTS_ALLOW_PRIVATE_URLS" in problem


@given(url=non_public_hosts.flatmap(urls))
def test_non_public_address_is_accepted_when_allowed(url: str) -> None:
    assert refused(url, allow=True) is None


@given(
    url=(
        public_v4.flatmap(ipv4_hosts)
        | public_v6.map(_v6_host)
        | public_v4.map(lambda a: f"[::ffff:{a}]")
    ).flatmap(urls)
)
def test_public_address_in_any_spelling_is_accepted(url: str) -> None:
    assert refused(url) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "0x7f.1",
        "0x7F000001",
        "2130706433",
        "017700000001",
        "0177.0.0.01",
        "0",
        "0.0.0.0",
        "169.254.169.254",
        "[::1]",
        "[::]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[0:0:0:0:0:ffff:169.254.169.254]",
        "[fd00:ec2::254]",
        "[fe80::1]",
        "100.100.100.200",  # Alibaba Cloud's metadata service (shared space)
        "%31%32%37.0.0.1",  # percent-encoded digits: a browser decodes them
        "%EF%BC%91%EF%BC%92%EF%BC%97%E3%80%820%E3%80%820%E3%80%821",  # full-width 127, ideographic stops
    ],
)
def test_loopback_private_and_metadata_literals_are_refused(host: str) -> None:
    url = f"http://{host}/latest/meta-data/"
    problem = refused(url)
    assert problem is not None and "not a public one" in problem, (url, problem)
    assert refused(url, allow=True) is None


@pytest.mark.parametrize(
    "host",
    [
        "localhost",
        "LOCALHOST",
        "localhost.",
        "api.localhost",
        "metadata",
        "metadata.google.internal",
        "METADATA.GOOGLE.INTERNAL.",
        "instance-data.ec2.internal",
        "printer.local",
        "nas.home.arpa",
        "redis",
        "%6C%6F%63%61%6C%68%6F%73%74",  # localhost, percent-encoded
        "%EF%BD%8C%EF%BD%8F%EF%BD%83%EF%BD%81%EF%BD%8C%EF%BD%88%EF%BD%8F%EF%BD%93%EF%BD%94",
    ],
)
def test_local_names_are_refused_unless_allowed(host: str) -> None:
    url = f"https://{host}:8443/v.mp4"
    problem = refused(url)
    assert problem is not None and "local resolver" in problem, (url, problem)
    assert refused(url, allow=True) is None


@pytest.mark.parametrize(
    "host", ["1.2.3.256", "1.2.3.4.5", "0x100.1", "08.1.1.1", "example.123", "1..2"]
)
def test_hosts_that_end_in_a_number_must_be_ipv4_addresses(host: str) -> None:
    assert "not an IPv4 address" in (refused(f"http://{host}/") or "")


@pytest.mark.parametrize(
    ("host", "why"),
    [
        ("evil%2Fexample.com", "characters no resolver accepts"),
        ("evil%40example.com", "characters no resolver accepts"),
        ("example.com%00", "characters no resolver accepts"),
        ("ex%FFample.com", "not UTF-8"),
    ],
)
def test_hosts_a_browser_would_not_parse_are_refused(host: str, why: str) -> None:
    assert why in (refused(f"https://{host}/v.mp4") or "")


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "media.example.org.",
        "xn--bcher-kva.example",
        "b%C3%BCcher.example",
        "8.8.8.8",
        "[2606:4700:4700::1111]",
        "[::ffff:8.8.8.8]",
        "1e100.net",
        "123.example",
    ],
)
def test_public_hosts_are_accepted(host: str) -> None:
    assert refused(f"https://{host}/video.mp4") is None


@pytest.mark.parametrize(
    "url",
    [
        "https://alice:S3cret@media.example.com/v.mp4",
        "https://alice@media.example.com/v.mp4",
        "https://:token@media.example.com/v.mp4",
        "https://@media.example.com/v.mp4",
        "https://a%40b@media.example.com/v.mp4",
        "http://example.com@127.0.0.1/",
    ],
)
@pytest.mark.parametrize("allow", [False, True])
def test_user_info_is_refused_with_a_pointer_to_signed_urls(
    url: str, allow: bool
) -> None:
    problem = refused(url, allow=allow)
    assert problem is not None and "user info" in problem
    assert "signed query string" in problem
    assert re.fullmatch(VIDEO_URL_PATTERN, url) is None  # the OpenAPI document agrees


def test_at_signs_outside_the_authority_are_not_user_info() -> None:
    assert refused("https://example.com/@alice/v.mp4?by=a@b#c@d") is None
