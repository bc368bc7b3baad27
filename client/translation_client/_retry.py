"""Backoff math and Retry-After parsing, shared by HTTP retries, reconnects and polling."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

MAX_DELAY = 30.0
"""No single wait between retries is longer than this many seconds."""

RETRY_STATUSES = frozenset({429, 502, 503, 504})
"""HTTP statuses worth retrying: the server (or a proxy) says try again later."""


def backoff_delay(
    attempt: int,
    base: float,
    *,
    cap: float = MAX_DELAY,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number `attempt` (0 for the first retry).

    Exponential with "equal jitter": the ceiling is `base * 2**attempt` (at most
    `cap`) and the delay is drawn uniformly from its upper half, so retries from many
    clients spread out, yet each one still waits at least half the ceiling.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if base <= 0:
        return 0.0
    # min() before the power would overflow: 2**1100 is not a float.
    ceiling = min(cap, base * 2.0 ** min(attempt, 64))
    draw = (rng or random).random()
    return ceiling / 2 + draw * ceiling / 2


def parse_retry_after(
    value: str | None, *, now: datetime | None = None
) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date).

    None when the header is absent or unreadable; never negative; at most MAX_DELAY,
    so a misconfigured proxy cannot stall the client for hours.
    """
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_DELAY)


def retry_wait(
    attempt: int, base: float, retry_after: float | None, *, cap: float = MAX_DELAY
) -> float:
    """The server's Retry-After when it sent one, else the backoff delay."""
    if retry_after is not None:
        return min(retry_after, cap)
    return backoff_delay(attempt, base, cap=cap)
