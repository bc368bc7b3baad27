"""Setting values that are more than a number: durations, booleans, hosts."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

import attrs


@attrs.frozen
class SimDuration:
    """How long a simulated job takes: a uniform range in seconds."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g}"


def parse_sim_duration(raw: object) -> SimDuration:
    """`"2"` -> 2..2 s, `"1-5"` -> 1..5 s; both ends >= 0 and low <= high."""
    if isinstance(raw, SimDuration):
        return raw
    text = str(raw).strip()
    parts = text.split("-", 1)
    low, high = float(parts[0]), float(parts[-1])
    if not (0 <= low <= high) or high != high or high == float("inf"):
        raise ValueError(text)
    return SimDuration(low, high)


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


def setting(
    env: str,
    default: Any,
    accepted: str,
    check: Callable[[Any], bool] | None = None,
    *,
    shown: Callable[[Any], str] | None = None,
) -> Any:
    """A setting; `shown` replaces its value in the repr and in error lines."""
    return attrs.field(
        default=default,
        repr=(lambda value: repr(shown(value))) if shown else True,
        metadata={"env": env, "accepted": accepted, "check": check, "shown": shown},
    )


def secret(env: str, min_length: int) -> Any:
    """An optional secret: kept out of the repr, shown as <hidden> in an error."""
    return attrs.field(
        default=None,
        repr=False,
        metadata={
            "env": env,
            "accepted": f"a secret of at least {min_length} characters",
            "check": lambda v: v is None or len(v) >= min_length,
            "secret": True,
        },
    )
