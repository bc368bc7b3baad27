"""WebhookStore: endpoints, the deliveries outbox and the dispatcher's cursor, kept in
the job store (both built-in stores are one, as they are a KeyStore)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol, runtime_checkable

from vts.idempotency import IdempotencyClaim
from vts.snapshot import Snapshot
from vts.webhooks.model import Delivery, DeliveryStatus, Endpoint

Plan = Callable[[Sequence[tuple[int, Snapshot]], Sequence[Endpoint]], list[Delivery]]
"""(logged events, the enabled endpoints of their tenants) -> the deliveries to make."""
Due = tuple[str, str]
"""A due delivery as a claim first sees it: (delivery id, endpoint id)."""
Pick = Callable[[Sequence[Due]], Sequence[Due]]
"""Due deliveries, oldest first -> those to take now (per-endpoint caps). Only
those taken are read in full."""
Apply = Callable[[Delivery, Endpoint], tuple[Delivery, Endpoint]]
"""A delivery and its endpoint -> both after an attempt (vts.webhooks.model)."""


class WebhookCounts(NamedTuple):
    """The outbox as the metrics show it."""

    pending: int
    """Deliveries pending: due, or waiting for a retry."""
    disabled: int
    """Endpoints disabled."""
    undispatched: int
    """Events logged after the dispatcher's cursor, while any endpoint exists (then
    the dispatcher runs): how far it is behind the log."""


@runtime_checkable
class WebhookStore(Protocol):
    """Raises StoreUnavailableError when down. Every read and change of an endpoint
    takes the caller's tenant (None: any tenant's): another tenant's endpoint is
    missing, never forbidden."""

    async def create_endpoint(
        self, endpoint: Endpoint, idempotency: IdempotencyClaim | None = None
    ) -> tuple[Endpoint, bool]:
        """Store it; return it and True. The first endpoint also moves the dispatch
        cursor to the log's end (with no endpoint the dispatcher skips the log: see
        endpoints_exist).

        Idempotency-Keys are scoped to `endpoint.tenant` and kept as long as the
        endpoint that used them: with a claim whose key that tenant's endpoint holds,
        that endpoint (as it is now) and False when the fingerprint matches,
        IdempotencyKeyReusedError when it differs. Keys of jobs are others."""

    async def endpoints_exist(self) -> bool:
        """Whether any tenant has an endpoint (enabled or not)."""

    async def get_endpoint(
        self, endpoint_id: str, *, tenant: str | None
    ) -> Endpoint | None: ...

    async def list_endpoints(self, *, tenant: str | None) -> list[Endpoint]:
        """Oldest first, disabled ones too."""

    async def delete_endpoint(self, endpoint_id: str, *, tenant: str | None) -> bool:
        """Delete the endpoint and its deliveries; False if there was none."""

    async def rotate_secret(
        self,
        endpoint_id: str,
        secret: str,
        previous_expires_at: datetime,
        *,
        tenant: str | None,
    ) -> Endpoint | None:
        """Make `secret` current; the old one stays valid until the given time."""

    async def dispatch_events(
        self, limit: int, plan: Plan
    ) -> tuple[int, list[Delivery]] | None:
        """In one transaction: read up to `limit` logged events after the dispatch
        cursor, insert the deliveries `plan` makes of them (claimed if it set
        claimed_until), and move the cursor past them; (events read, deliveries
        made). None when another process holds the cursor (Postgres, SKIP LOCKED):
        it is dispatching these events."""

    async def claim_deliveries(
        self,
        now: datetime,
        lease_until: datetime,
        limit: int,
        busy: Sequence[str],
        pick: Pick,
    ) -> list[tuple[Delivery, Endpoint]]:
        """Take due pending deliveries of enabled endpoints not in `busy`, oldest
        first, up to `limit` offered to `pick`, until `lease_until`: no other
        claimer gets them until then (a crashed claimer's come back after it)."""

    async def record_attempts(
        self, attempts: Sequence[tuple[str, Apply]]
    ) -> list[tuple[Delivery, Endpoint] | None]:
        """In one transaction, for each (delivery id, apply) in order: write what
        `apply` makes of the delivery and its endpoint (as the earlier ones left
        it), and release the claim. An endpoint this disables has its pending
        deliveries failed. Each result is None if the delivery is gone (its
        endpoint was deleted)."""

    async def list_deliveries(
        self,
        endpoint_id: str,
        status: DeliveryStatus | None,
        before: int | None,
        limit: int,
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest event first, with an event seq below
        `before` if given (a page cursor)."""

    async def retry_delivery(
        self, endpoint_id: str, delivery_id: str, now: datetime
    ) -> Delivery | None:
        """Make the delivery pending and due at `now` with a fresh schedule, and
        enable its endpoint again; None if the endpoint has no such delivery."""

    async def purge_deliveries(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` succeeded or failed deliveries whose last change was
        before `before`; how many. Call again while it returns `limit`."""

    async def next_delivery_due(self, busy: Sequence[str]) -> datetime | None:
        """When the earliest pending delivery of an enabled endpoint not in `busy`
        becomes due (a claimed one: when its claim runs out)."""

    async def webhook_counts(self) -> WebhookCounts:
        """What the metrics show of the outbox, read at scrape time."""
