"""StatusWriter: patches one TranslationJob's status and posts its Events while a
daemon follows the vts job."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from vts_operator import conditions, events, mapping
from vts_operator.kube import StatusApi


class StatusWriter:
    """Writes one resource's status: every phase change at once, progress at most
    once per `interval` seconds (the terminal snapshot is never held back).

    It remembers the phase and conditions it last wrote, so condition transition
    times and phase-change Events are computed against what the resource shows.
    """

    def __init__(
        self,
        *,
        api: StatusApi,
        body: kopf.Body,
        logger: kopf.Logger,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.api = api
        self.body = body
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self.phase: str | None = body.status.get("phase")
        self.conditions: list[Mapping[str, Any]] = list(
            body.status.get("conditions") or []
        )
        self._patched_at = -math.inf

    @property
    def generation(self) -> int | None:
        generation = self.body.metadata.get("generation")
        return generation if isinstance(generation, int) else None

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def job(self, job: Mapping[str, Any]) -> None:
        """Mirror a job snapshot: an Event if the phase moved, a (paced) patch."""
        event = events.phase_event(self.phase, job)
        status = mapping.job_status(
            job,
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        elapsed = self.clock() - self._patched_at
        if events.should_patch(self.phase, status["phase"], elapsed, self.interval):
            await self.patch(status)
        if event is not None:
            self.event(event)

    async def rejected(self, detail: str) -> None:
        """Mark the resource Failed because vts (or the operator) rejected its spec."""
        status = mapping.rejected_status(
            detail,
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        await self.patch(status)
        self.event(events.rejected_event(detail))

    async def lost(self, job_id: str, detail: str) -> None:
        """Mark the resource Failed because its vts job no longer exists."""
        status = mapping.failed_status(
            "JobLost",
            f"vts job {job_id} no longer exists: {detail}",
            code="job-not-found",
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        await self.patch(status)

    async def unavailable(self, message: str) -> None:
        """Show why the resource is stuck (Ready=False, VtsUnavailable)."""
        status = mapping.unavailable_status(
            message,
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        await self.patch(status)

    async def unauthorized(self, message: str, retry_in: float) -> None:
        """Show that vts refused the operator's key (Ready=False, Unauthorized); the
        warning Event goes out once, not on every slow retry."""
        ready = conditions.find_condition(self.conditions, mapping.READY) or {}
        already = ready.get("reason") == mapping.UNAUTHORIZED
        status = mapping.unauthorized_status(
            message,
            retry_in=retry_in,
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        await self.patch(status)
        if not already:
            self.event(events.unauthorized_event(message))

    async def patch(self, status: mapping.Status) -> None:
        namespace = self.body.metadata.namespace or ""
        await self.api.patch_status(namespace, self.body.metadata.name or "", status)
        self.phase = status.get("phase", self.phase)
        self.conditions = status.get("conditions", self.conditions)
        self._patched_at = self.clock()

    def event(self, event: events.Event) -> None:
        kopf.event(
            self.body, type=event.type, reason=event.reason, message=event.message
        )
