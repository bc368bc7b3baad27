"""One version of one job as the world sees it, encoded once and carried everywhere."""

from __future__ import annotations

from typing import NamedTuple

import orjson

from vts.codec import job_to_public
from vts.domain import DEFAULT_TENANT, Job, JobStatus

JOB_MESSAGE_PREFIX = b'{"type":"job",'
_SEPARATOR = b"\t"
"""Between the fields of a framed snapshot. No field holds one: job ids and tenant
names are validated, statuses are words, and compact JSON escapes every tab."""


class Snapshot(NamedTuple):
    """The public JSON of one job version (`body`) with the fields everyone routes
    on beside it, so nothing parses the bytes back to learn them.

    The store's change, the hub, every WebSocket sink, the cache and the relay all
    carry the same object; a tuple, so it is cheap to make and cannot change.
    """

    job_id: str
    tenant: str
    version: int
    status: JobStatus
    body: bytes

    @classmethod
    def of(cls, job: Job) -> Snapshot:
        """Encode `job`: the one place a job version becomes bytes for clients."""
        body = orjson.dumps(job_to_public(job))
        return cls(job.job_id, job.tenant, job.version, job.status, body)

    @property
    def final(self) -> bool:
        return self.status.is_final

    @property
    def message(self) -> bytes:
        """The WebSocket job message: the body with `"type": "job"` in front."""
        return JOB_MESSAGE_PREFIX + self.body[1:]

    def framed(self) -> bytes:
        """The snapshot with its routing fields in front, for the cache and the relay:
        `version TAB status TAB tenant TAB job_id TAB body`."""
        head = f"{self.version}\t{self.status.value}\t{self.tenant}\t{self.job_id}\t"
        return head.encode() + self.body

    @classmethod
    def unframe(cls, raw: bytes) -> Snapshot:
        """Read `framed()` bytes back without parsing the JSON; a bare snapshot (from
        a replica of an older vts, during a rolling upgrade) is parsed instead.

        Raises ValueError for bytes that are neither.
        """
        if raw.startswith(b"{"):
            try:
                data = orjson.loads(raw)
                return cls(
                    data["job_id"],
                    # Snapshots from before tenants name none.
                    data.get("tenant", DEFAULT_TENANT),
                    int(data["version"]),
                    JobStatus(data["status"]),
                    raw,
                )
            except (KeyError, TypeError) as exc:
                raise ValueError(f"not a job snapshot: {exc}") from None
        version, status, tenant, job_id, body = raw.split(_SEPARATOR, 4)
        return cls(
            job_id.decode(),
            tenant.decode(),
            int(version),
            JobStatus(status.decode()),
            body,
        )
