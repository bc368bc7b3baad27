"""A retried cancel or replay whose earlier attempt was done but unanswered.

The client retries a request whose answer never came (a connection error, a
timeout, a proxy's 502 or 504). If the lost attempt reached vts and did its work,
the retry finds the job already moved on and gets 409. The caller asked for that
very state, so it gets the job, not an error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from translation_client._errors import ConflictError
from translation_client._models import Job


async def done_before(
    conflict: ConflictError,
    fetch: Callable[[], Awaitable[Job]],
    done: Callable[[Job], bool],
) -> Job:
    """The job if `conflict` followed a lost answer and the job is `done`; else
    `conflict` is raised (a plain 409: the request was refused, nothing else)."""
    if not conflict.answer_lost:
        raise conflict
    job = await fetch()
    if not done(job):
        raise conflict
    return job


def is_cancelled(job: Job) -> bool:
    return job["status"] == "cancelled"


def is_replayed(job: Job) -> bool:
    """Replay makes a failed job pending with its attempts reset (the domain's
    Replay transition); a worker may have claimed it since. Failed, completed or
    cancelled is not (or no longer) what the replay made, so the 409 stands."""
    return job["status"] in ("pending", "processing")
