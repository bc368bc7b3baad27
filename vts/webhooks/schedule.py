"""The retry schedule (VTS_WEBHOOK_RETRY_SCHEDULE) and `Retry-After`: how long a
failed delivery waits before its next attempt."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

DEFAULT_SCHEDULE = (5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
SCHEDULE_ACCEPTED = (
    "a comma-separated list of 1-50 durations such as 0.5s, 5m or 2h "
    "(default 5s,5m,30m,2h,5h,10h,10h)"
)
JITTER = 0.2
"""Each wait is the schedule's, plus or minus up to 20 %: retries of many messages
that failed together spread out instead of arriving together."""
MAX_RETRY_AFTER = 86400.0
_STEP = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_schedule(raw: object) -> tuple[float, ...]:
    """Seconds from `"5s,5m,30m"`; ValueError unless 1-50 positive durations, each
    with a unit (ms, s, m, h, d), at most a day."""
    if isinstance(raw, tuple | list):
        steps = tuple(float(s) for s in raw)
    else:
        text = str(raw)
        if not text.isascii():
            raise ValueError(raw)
        steps = tuple(_step(part) for part in text.split(","))
    if not 1 <= len(steps) <= 50 or not all(0 < s <= 86400 for s in steps):
        raise ValueError(raw)
    return steps


def _step(part: str) -> float:
    match = _STEP.match(part)
    if match is None:
        raise ValueError(part)
    return float(match[1]) * _UNIT[match[2]]


def format_schedule(steps: tuple[float, ...]) -> str:
    return ",".join(f"{s:g}s" for s in steps)


def next_delay(
    schedule: tuple[float, ...],
    failures: int,
    jitter: float,
    retry_after: float | None = None,
) -> float | None:
    """The wait after the `failures`-th failed attempt in a row (1: the first);
    None once the schedule is used up. `jitter` in [0, 1) picks the spread; a
    `Retry-After` longer than the schedule's wait wins (up to a day)."""
    if failures > len(schedule):
        return None
    delay = schedule[failures - 1] * (1 - JITTER + 2 * JITTER * jitter)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return delay


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds from a `Retry-After` header (seconds or an HTTP date); None if absent
    or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
