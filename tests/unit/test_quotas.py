"""The token bucket and the RateLimit fields of a 429, on a clock the test moves."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest

from vts.api.problems import rate_limit_headers
from vts.apikeys import Tenant
from vts.errors import RateLimitedError
from vts.metrics import Metrics
from vts.quotas import LIMITS_TTL, Limits, Quotas


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def quotas(clock: Clock) -> Quotas:
    return Quotas(None, Limits(10, 0.0), Metrics(), clock=clock)


def test_a_bucket_holds_one_second_of_requests_and_refills_at_the_rate() -> None:
    clock = Clock()
    q = quotas(clock)
    limits = Limits(10, 5.0)
    for _ in range(5):  # a burst of one second's worth
        q.take_request("acme", limits)
    with pytest.raises(RateLimitedError) as refused:
        q.take_request("acme", limits)
    assert refused.value.retry_after == 1
    q.take_request("globex", limits)  # each tenant has its own bucket
    clock.now += 0.2  # one token back
    q.take_request("acme", limits)
    with pytest.raises(RateLimitedError):
        q.take_request("acme", limits)
    clock.now += 10  # never more than a second's worth saved up
    for _ in range(5):
        q.take_request("acme", limits)
    with pytest.raises(RateLimitedError):
        q.take_request("acme", limits)


def test_zero_is_unlimited() -> None:
    q = quotas(Clock())
    for _ in range(10_000):
        q.take_request("acme", Limits(10, 0.0))


@pytest.mark.parametrize(
    ("rate", "policy", "limit"),
    [
        (50.0, '"requests";q=50;w=1', '"requests";r=0;t=1'),
        (2.5, '"requests";q=2;w=1', '"requests";r=0;t=1'),
        (0.25, '"requests";q=1;w=4', '"requests";r=0;t=4'),
    ],
)
def test_a_refusal_names_the_policy_in_the_draft_syntax(
    rate: float, policy: str, limit: str
) -> None:
    q = quotas(Clock())
    limits = Limits(10, rate)
    with pytest.raises(RateLimitedError) as refused:
        for _ in range(100):
            q.take_request("acme", limits)
    headers = rate_limit_headers(refused.value)
    assert (headers["RateLimit-Policy"], headers["RateLimit"]) == (policy, limit)
    assert headers["Retry-After"] == limit.rsplit("=", 1)[1]


class TenantReads:
    """The one KeyStore method limits() uses, counting its calls."""

    def __init__(self) -> None:
        self.reads = 0

    async def get_tenant(self, name: str) -> Tenant:
        self.reads += 1
        await asyncio.sleep(0.01)
        return Tenant(name, 3, 7.0, datetime.now(UTC))


async def test_concurrent_requests_read_a_tenants_limits_once_per_ttl() -> None:
    clock = Clock()
    store = TenantReads()
    keys: Any = store
    q = Quotas(keys, Limits(10, 0.0), Metrics(), clock=clock)
    first = await asyncio.gather(*(q.limits("acme") for _ in range(50)))
    assert first == [Limits(3, 7.0)] * 50
    assert store.reads == 1
    clock.now += LIMITS_TTL  # stale: the next burst reads once more
    await asyncio.gather(*(q.limits("acme") for _ in range(50)))
    assert store.reads == 2
    await q.limits("globex")  # each tenant its own read
    assert store.reads == 3
