"""Parsers for setting values, each taking the text of a variable or a typed value:
numbers, durations, booleans, hosts. ValueError or TypeError: not acceptable."""

from __future__ import annotations

import ipaddress
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(raw: object) -> float:
    """Seconds from `"3600"`, `"90s"`, `"15m"`, `"12h"` or `"30d"` (fractions allowed)."""
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return float(raw)
    match = _DURATION.match(str(raw)) if str(raw).isascii() else None
    if match is None:
        raise ValueError(raw)
    return float(match[1]) * _UNIT_SECONDS[match[2].lower()]


_BOOLEANS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


def parse_bool(raw: object) -> bool:
    """`true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`, any case."""
    if isinstance(raw, bool):
        return raw
    value = _BOOLEANS.get(str(raw).strip().lower())
    if value is None:
        raise ValueError(raw)
    return value


def is_loopback(host: str) -> bool:
    """Whether `host` is `localhost` or a loopback address (127.0.0.0/8, ::1)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


_PASSWORD = re.compile(r"^((?:[^:/?#]+://)?[^:/?#@]*:)[^@/?#]*@")


def redact_url(url: object) -> str:
    """The URL with any password in its user info replaced, for reprs and errors."""
    return _PASSWORD.sub(r"\1***@", str(url))


def _ascii_text(raw: str) -> str:
    # int() and float() would take other scripts' digits.
    if not raw.isascii():
        raise ValueError(raw)
    return raw.strip()


def parse_int(raw: object) -> int:
    """An integer, from its digits or an int (never a bool or a fraction)."""
    if isinstance(raw, bool):
        raise TypeError(raw)
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str):
        return int(_ascii_text(raw))
    raise TypeError(raw)


def parse_optional_int(raw: object) -> int | None:
    """An integer, or None for None and the empty text (unset)."""
    return None if raw is None or raw == "" else parse_int(raw)


def parse_float(raw: object) -> float:
    """A number (not NaN), from its text, an int or a float."""
    if isinstance(raw, bool):
        raise TypeError(raw)
    if isinstance(raw, str):
        raw = _ascii_text(raw)
    if not isinstance(raw, str | int | float):
        raise TypeError(raw)
    value = float(raw)
    if value != value:  # NaN passes no range check's negation
        raise ValueError(raw)
    return value


def parse_text(raw: object) -> str:
    if not isinstance(raw, str):
        raise TypeError(raw)
    return raw


def parse_upper(raw: object) -> str:
    """A case-insensitive word, as upper case (log levels)."""
    return parse_text(raw).strip().upper()


def parse_lower(raw: object) -> str:
    """A case-insensitive word, as lower case (choices)."""
    return parse_text(raw).strip().lower()


def parse_secret(raw: object) -> str | None:
    """A secret; None and the empty text mean unset."""
    return None if raw is None or raw == "" else parse_text(raw)
