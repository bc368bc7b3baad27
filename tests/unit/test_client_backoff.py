"""The client's retry timing: exponential backoff with jitter, Retry-After parsing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from translation_client._retry import (
    MAX_DELAY,
    backoff_delay,
    parse_retry_after,
    retry_wait,
)

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_delay_stays_in_the_upper_half_of_a_doubling_ceiling(
    attempt: int,
) -> None:
    ceiling = min(MAX_DELAY, 0.1 * 2**attempt)
    rng = random.Random(attempt)
    delays = [backoff_delay(attempt, 0.1, rng=rng) for _ in range(200)]
    assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
    assert max(delays) - min(delays) > ceiling / 4, "jittered, not fixed"


def test_backoff_delay_grows_then_stops_at_the_cap() -> None:
    lows = [backoff_delay(n, 1.0, rng=_Fixed(0.0)) for n in range(8)]
    assert lows == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0]
    assert backoff_delay(10_000, 1.0, rng=_Fixed(1.0)) == MAX_DELAY
    assert backoff_delay(3, 1.0, cap=2.0, rng=_Fixed(1.0)) == 2.0


def test_backoff_delay_edges() -> None:
    assert backoff_delay(5, 0.0) == 0.0
    with pytest.raises(ValueError):
        backoff_delay(-1, 1.0)


def test_backoff_jitter_spreads_many_clients() -> None:
    delays = {round(backoff_delay(4, 1.0, rng=random.Random(n)), 6) for n in range(50)}
    assert len(delays) == 50


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("3", 3.0),
        (" 2.5 ", 2.5),
        ("0", 0.0),
        ("-4", 0.0),
        ("86400", MAX_DELAY),
        (None, None),
        ("", None),
        ("soon", None),
        ("nan", None),
    ],
)
def test_parse_retry_after_delta_seconds(
    header: str | None, seconds: float | None
) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_parse_retry_after_http_date() -> None:
    later = format_datetime(NOW + timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(later, now=NOW) == 7.0
    earlier = format_datetime(NOW - timedelta(seconds=7), usegmt=True)
    assert parse_retry_after(earlier, now=NOW) == 0.0


def test_retry_wait_prefers_the_servers_retry_after() -> None:
    assert retry_wait(6, 1.0, 0.25) == 0.25
    assert retry_wait(0, 1.0, 100.0, cap=10.0) == 10.0
    assert 0.5 <= retry_wait(0, 1.0, None) <= 1.0


class _Fixed(random.Random):
    """A Random whose random() always returns `value`."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value
