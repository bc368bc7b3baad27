"""StatusWriter: patches one TranslationJob's status and posts its Events while a
daemon follows the vts job."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

# kopf applies a daemon's `patch` only when the daemon function returns; a daemon
# that mirrors a job for minutes has to patch as it goes. kopf has no public call for
# that, so this uses the one kopf itself uses: same API session, credentials, retries.
from kopf._cogs.clients import patching

from vts_operator import mapping


class StatusWriter:
    """Writes one resource's status: every phase change at once, progress at most
    once per `interval` seconds (the terminal snapshot is never held back).

    It remembers the phase and conditions it last wrote, so condition transition
    times and phase-change Events are computed against what the resource shows.
    """

    def __init__(
        self,
        *,
        settings: kopf.OperatorSettings,
        resource: kopf.Resource,
        body: kopf.Body,
        logger: kopf.Logger,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.resource = resource
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
        event = mapping.phase_event(self.phase, job)
        status = mapping.job_status(
            job,
            previous_conditions=self.conditions,
            now=self.now(),
            generation=self.generation,
        )
        elapsed = self.clock() - self._patched_at
        if mapping.should_patch(self.phase, status["phase"], elapsed, self.interval):
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
        self.event(mapping.rejected_event(detail))

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
            message, previous_conditions=self.conditions, now=self.now()
        )
        await self.patch(status)

    async def unauthorized(self, message: str, retry_in: float) -> None:
        """Show that vts refused the operator's key (Ready=False, Unauthorized); the
        warning Event goes out once, not on every slow retry."""
        ready = mapping.find_condition(self.conditions, mapping.READY) or {}
        already = ready.get("reason") == mapping.UNAUTHORIZED
        status = mapping.unauthorized_status(
            message,
            retry_in=retry_in,
            previous_conditions=self.conditions,
            now=self.now(),
        )
        await self.patch(status)
        if not already:
            self.event(mapping.unauthorized_event(message))

    async def patch(self, status: mapping.Status) -> None:
        await patching.patch_obj(
            settings=self.settings,
            resource=self.resource,
            namespace=self.body.metadata.namespace,
            name=self.body.metadata.name,
            patch=kopf.Patch({"status": status}),
            logger=self.logger,
        )
        self.phase = status.get("phase", self.phase)
        self.conditions = status.get("conditions", self.conditions)
        self._patched_at = self.clock()

    def event(self, event: mapping.Event) -> None:
        kopf.event(
            self.body, type=event.type, reason=event.reason, message=event.message
        )
