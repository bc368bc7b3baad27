"""Tenants' limits: active jobs (counted in the store) and requests per second.

The active-job quota is global: each replica counts a tenant's pending and
processing jobs in the store at most once per ACTIVE_MAX_AGE seconds and adds the
jobs it created since, so with several replicas a tenant may overshoot by what the
others created within that second. The request rate is a token bucket per tenant
per replica: N replicas behind a load balancer admit up to N times the rate.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from typing import TypeVar

import attrs

from vts.domain import Job
from vts.errors import QuotaExceededError, RateLimitedError, UnavailableError
from vts.idempotency import IdempotencyClaim
from vts.metrics import Metrics
from vts.ports import JobStore, KeyStore
from vts.snapshot import Snapshot

log = logging.getLogger(__name__)
V = TypeVar("V")

LIMITS_TTL = 2.0
"""Seconds a tenant's quotas read from the store are trusted (PUT /admin/tenants
reaches every replica within this)."""
ACTIVE_MAX_AGE = 1.0
"""Seconds a tenant's active-job count from the store is trusted."""
MAX_TENANTS = 10_000
"""Bound on the tenants remembered (made-up tenant names must not grow memory)."""
RATE_POLICY = "requests"
ACTIVE_POLICY = "active-jobs"


@attrs.frozen
class Limits:
    """A tenant's quotas: requests_per_second 0 is unlimited."""

    max_active_jobs: int
    requests_per_second: float


@attrs.define
class _Bucket:
    tokens: float
    at: float


@attrs.define
class _Active:
    counted_at: float
    count: int


class Quotas:
    """Checks a tenant's request rate and active jobs; raises the 429 errors."""

    def __init__(
        self,
        keys: KeyStore | None,
        defaults: Limits,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self.defaults = defaults
        self._metrics = metrics
        self._clock = clock
        self._limits: dict[str, tuple[float, Limits]] = {}
        self._buckets: dict[str, _Bucket] = {}
        self._active: dict[str, _Active] = {}
        self._locks: dict[str, asyncio.Lock] = {}  # counting active jobs
        self._reading: dict[str, asyncio.Lock] = {}  # reading limits

    async def limits(self, tenant: str) -> Limits:
        """The tenant's quotas (the defaults if it has no row), cached LIMITS_TTL."""
        cached = self._limits.get(tenant)
        if cached is not None and self._clock() - cached[0] < LIMITS_TTL:
            return cached[1]  # every request's path: no lock, no await
        lock = _bounded(self._reading).setdefault(tenant, asyncio.Lock())
        async with lock:  # one read per tenant at a time, however many wait
            cached = self._limits.get(tenant)
            now = self._clock()
            if cached is not None and now - cached[0] < LIMITS_TTL:
                return cached[1]  # read while this request waited
            limits = self.defaults if cached is None else cached[1]
            if self._keys is not None:
                try:
                    row = await self._keys.get_tenant(tenant)
                except UnavailableError as exc:  # serve on with what was known
                    log.warning("cannot read tenant %s's quotas: %s", tenant, exc)
                else:
                    if row is not None:
                        limits = Limits(row.max_active_jobs, row.requests_per_second)
            _bounded(self._limits)[tenant] = (now, limits)
        return limits

    def take_request(self, tenant: str, limits: Limits) -> None:
        """Spend one of the tenant's request tokens, or raise RateLimitedError.

        The bucket holds one second of requests (at least one) and refills at
        requests_per_second."""
        rate = limits.requests_per_second
        if rate <= 0:
            return
        capacity = max(1.0, rate)
        now = self._clock()
        bucket = self._buckets.get(tenant)
        if bucket is None:
            bucket = _bounded(self._buckets)[tenant] = _Bucket(capacity, now)
        bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
        bucket.at = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return
        self._metrics.tenant_rejections.labels(tenant, "rate").inc()
        wait = max(1, math.ceil((1.0 - bucket.tokens) / rate))
        window = max(1, math.ceil(1 / rate))
        raise RateLimitedError(
            f"tenant {tenant} may make {rate:g} requests per second; retry in {wait} s",
            policy=RATE_POLICY,
            quota=max(1, math.floor(rate * window)),
            remaining=0,
            retry_after=wait,
            window=window,
        )

    async def admit_job(self, tenant: str, idempotency_key: str | None) -> bool:
        """Count one more active job of `tenant`, or raise QuotaExceededError; True
        if counted (then call `release_job` if no job was created after all).

        A replay of an Idempotency-Key the tenant already used creates nothing, so a
        full quota lets it through (uncounted, False)."""
        if self._keys is None:
            return False  # a store that cannot count: no quota
        limits = await self.limits(tenant)
        active = await self._counted(tenant, self._keys)
        if active.count < limits.max_active_jobs:
            active.count += 1
            return True
        if idempotency_key is not None and await self._keys.has_idempotency_key(
            tenant, idempotency_key
        ):
            return False
        self._metrics.tenant_rejections.labels(tenant, "quota").inc()
        raise QuotaExceededError(
            f"tenant {tenant} has {active.count} active (pending or processing) "
            f"jobs and its quota is {limits.max_active_jobs}: wait for some to "
            "finish, or cancel some",
            policy=ACTIVE_POLICY,
            quota=limits.max_active_jobs,
            remaining=0,
            retry_after=math.ceil(ACTIVE_MAX_AGE),
        )

    async def create(
        self,
        store: JobStore,
        job: Job,
        idempotency: IdempotencyClaim | None,
        snapshot: Snapshot | None = None,
    ) -> tuple[Job, bool]:
        """`store.create(job, idempotency, snapshot)` once the job's tenant has room
        for it."""
        tenant = job.tenant
        key = None if idempotency is None else idempotency.key
        counted = await self.admit_job(tenant, key)
        created = False
        try:
            stored, created = await store.create(job, idempotency, snapshot)
        finally:
            if counted and not created:
                self.release_job(tenant)  # a replay, or not stored
        return stored, created

    def release_job(self, tenant: str) -> None:
        active = self._active.get(tenant)
        if active is not None and active.count > 0:
            active.count -= 1

    async def _counted(self, tenant: str, keys: KeyStore) -> _Active:
        active = self._active.get(tenant)
        if active is not None and self._clock() - active.counted_at < ACTIVE_MAX_AGE:
            return active
        lock = self._locks.setdefault(tenant, asyncio.Lock())
        async with lock:  # one count per tenant at a time, however many wait
            active = self._active.get(tenant)
            if active is None or self._clock() - active.counted_at >= ACTIVE_MAX_AGE:
                started = self._clock()
                count = await keys.count_active_jobs(tenant)
                active = _bounded(self._active)[tenant] = _Active(started, count)
        if len(self._locks) > MAX_TENANTS:
            self._locks = {tenant: lock}
        return active


def _bounded(table: dict[str, V]) -> dict[str, V]:
    """`table`, emptied first if it holds MAX_TENANTS entries."""
    if len(table) >= MAX_TENANTS:
        table.clear()
    return table
