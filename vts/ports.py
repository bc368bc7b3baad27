"""The ports the service core talks to: JobStore, Broker, Processor (typing.Protocols)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import attrs

from vts.apikeys import ApiKey, Tenant
from vts.domain import Job, JobStatus
from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot


@attrs.frozen
class Page:
    """One page of jobs, newest first; `next_cursor` is None on the last page."""

    jobs: Sequence[Job]
    next_cursor: str | None


@runtime_checkable
class JobStore(Protocol):
    """Durable job state, the source of truth. Raises StoreUnavailableError when down."""

    async def open(self) -> None:
        """Connect; the schema is brought up to date by `migrate`."""

    async def close(self) -> None: ...

    async def migrate(self) -> list[str]:
        """Apply pending migrations once (safe to race); return the names applied."""

    async def ping(self) -> None:
        """Return if the store answers; raise StoreUnavailableError otherwise."""

    async def create(
        self,
        job: Job,
        idempotency: IdempotencyClaim | None,
        snapshot: Snapshot | None = None,
    ) -> tuple[Job, bool]:
        """Insert `job` durably, and log `snapshot` (its encoding, made here when not
        given) in the event log; return it and True.

        Idempotency-Keys are scoped to `job.tenant`: with a claim whose key that
        tenant already used, the existing job and False when the fingerprint
        matches, IdempotencyKeyReusedError when it differs. Another tenant's use of
        the same key is another key.
        """

    async def get(self, job_id: str, *, tenant: str | None) -> Job:
        """The stored job of `tenant` (None: of any tenant).

        JobNotFoundError if there is none, or if it belongs to another tenant: a
        caller cannot tell another tenant's job from an unknown id.
        """

    async def list_jobs(
        self,
        status: JobStatus | None,
        limit: int,
        cursor: str | None,
        *,
        tenant: str | None,
    ) -> Page:
        """Jobs of `tenant` (None: every tenant) newest first, optionally of one
        status; ValidationError on a bad cursor."""

    async def update(
        self, job: Job, expected_version: int, snapshot: Snapshot | None = None
    ) -> None:
        """Write `job` only if the stored version is `expected_version`, and log
        `snapshot` (its encoding, made here when not given) in the event log.

        Raises VersionConflictError when it is not, JobNotFoundError when it is gone.
        """

    async def claim(
        self, now: datetime, limit: int, apply: Callable[[Job], Job]
    ) -> list[tuple[Job, Snapshot]]:
        """Atomically take up to `limit` due pending jobs, oldest first.

        Each is passed through `apply` (the domain's claim transition), written and
        logged; each claimed job comes with its snapshot, encoded once. Two
        concurrent claimers never get the same job.
        """

    async def renew_leases(
        self, owner: str, job_ids: Sequence[str], expires_at: datetime
    ) -> set[str]:
        """Extend the leases `owner` still holds; return the ids it still holds."""

    async def expired(self, now: datetime, limit: int) -> list[Job]:
        """Processing jobs whose lease ran out before `now`."""

    async def dead_letters(self, limit: int, *, tenant: str | None) -> list[Job]:
        """Failed (dead-lettered) jobs of `tenant` (None: every tenant), most recent
        first."""

    async def purge_finished(
        self, before: datetime, limit: int
    ) -> list[tuple[str, JobStatus]]:
        """Delete up to `limit` final jobs (completed, failed, cancelled) that finished
        before `before`, those that finished first first; return (job id, status)
        of each, in no particular order."""

    async def count_by_status(
        self, tenant: str | None = None
    ) -> Mapping[JobStatus, int]:
        """How many jobs of `tenant` (None: of every tenant) are in each status."""

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> list[tuple[int, Snapshot]]:
        """Up to `limit` logged job versions with a seq above `after`, oldest first:
        of `tenant` (None: every tenant), of `job_ids` only if given. Seqs increase
        in commit order, so resuming after the last seq read misses nothing."""

    async def oldest_event_seq(self) -> int | None:
        """The lowest seq still in the log (None: the log is empty); a consumer whose
        cursor is below it may have missed pruned events."""

    async def newest_event_seq(self) -> int:
        """The highest seq ever handed out and committed (0: none), even if pruned
        since: a new consumer starts after it, and a cursor above it is unknown."""

    async def purge_events(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events logged before `before`
        (VTS_EVENT_RETENTION); how many. Call again while it returns `limit`."""

    async def next_due(self) -> datetime | None:
        """When the earliest pending job becomes claimable, if any is pending."""


@runtime_checkable
class KeyStore(Protocol):
    """API keys and tenants, kept in the job store (both built-in stores are one).

    Raises StoreUnavailableError when down. Key writes are rare: they need no
    batching, and take effect on other replicas within their key cache's TTL.
    """

    async def create_key(self, key: ApiKey, tenant: Tenant) -> None:
        """Store `key`; create its tenant as `tenant` (default quotas) if it has none."""

    async def get_key(self, key_id: str) -> ApiKey | None: ...

    async def list_keys(self, tenant: str | None) -> list[ApiKey]:
        """Keys of `tenant` (None: every tenant), oldest first, revoked ones too."""

    async def revoke_key(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked at `at` (once: a second revocation keeps the first
        time); the key, None if there is no such key."""

    async def record_key_use(self, used: Mapping[str, datetime]) -> None:
        """Set last_used_at of many keys (key id -> when) in one write."""

    async def has_usable_key(self, now: datetime) -> bool:
        """Whether some key is neither revoked nor expired at `now`."""

    async def put_tenant(self, tenant: Tenant) -> Tenant:
        """Create the tenant or change its quotas (its created_at is kept)."""

    async def get_tenant(self, name: str) -> Tenant | None: ...

    async def list_tenants(self) -> list[Tenant]:
        """Every tenant, by name."""

    async def count_active_jobs(self, tenant: str) -> int:
        """The tenant's pending and processing jobs (its max_active_jobs quota)."""

    async def has_idempotency_key(self, tenant: str, key: str) -> bool:
        """Whether a stored job of `tenant` used this Idempotency-Key (a replay,
        which a full quota does not refuse)."""


@runtime_checkable
class Broker(Protocol):
    """Cache, dead-letter queue and event relay. Derived state: losing it loses no job.

    Raises BrokerUnavailableError when down.
    """

    relays_events: bool
    """True when other processes may share this broker, so events must be relayed."""

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None: ...

    async def cache_get(self, job_id: str) -> bytes | None: ...

    async def cache_set_many(self, snapshots: Sequence[tuple[str, int, bytes]]) -> None:
        """Write (job_id, version, snapshot) entries in one round trip.

        A broker shared by replicas (`relays_events`) never replaces a newer version
        of a job with an older one; an in-process broker has a single writer that
        flushes in order, and may write unconditionally.
        """

    async def cache_delete_many(self, job_ids: Sequence[str]) -> None:
        """Forget the cached snapshots of `job_ids` in one round trip (unknown ids
        are ignored)."""

    async def dlq_add(self, job_id: str, entry: bytes, failed_at: float) -> None: ...

    async def dlq_remove(self, job_id: str) -> None: ...

    async def dlq_list(self, limit: int) -> list[bytes]:
        """Dead-letter entries, most recent first."""

    async def dlq_size(self) -> int: ...

    async def publish(self, payload: bytes) -> None:
        """Send a non-empty payload to every subscriber of this broker (other replicas)."""

    def subscribe(self) -> AsyncIterator[bytes]:
        """Events published by anyone, until cancelled.

        Yields one empty payload as soon as the subscription is live, so the caller
        knows from when on nothing is missed. Raises BrokerUnavailableError when the
        connection is lost; call it again to resubscribe.
        """


Reporter = Callable[[int, str | None], Awaitable[None]]
"""`report(progress, stage)`: the processor tells how far it got."""


@runtime_checkable
class Processor(Protocol):
    """Runs one attempt of a job.

    Returns the result object; raises TransientError (retry later) or PermanentError.
    """

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def run(self, job: Job, report: Reporter) -> Mapping[str, Any]: ...
