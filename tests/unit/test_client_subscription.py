"""A watcher's subscription: each version once, in order, ending at a final status."""

from __future__ import annotations

import asyncio
from typing import Any

from translation_client import NotFoundError
from translation_client._subscription import FALLBACK, Subscription


def job(version: int, status: str = "processing") -> Any:
    return {"job_id": "j", "version": version, "status": status}


async def drain(sub: Subscription) -> list[Any]:
    items = []
    while True:
        try:
            items.append(await asyncio.wait_for(sub.get(), 0.01))
        except TimeoutError:
            return items


async def test_subscription_drops_versions_it_already_has() -> None:
    sub = Subscription("j")
    for version in (3, 3, 2, 4, 1, 6, 5):
        sub.offer(job(version))
    assert [item["version"] for item in await drain(sub)] == [3, 4, 6]
    assert sub.last_version == 6 and not sub.done


async def test_subscription_ends_after_the_first_final_status() -> None:
    sub = Subscription("j")
    sub.offer(job(1, "pending"))
    sub.offer(job(2, "completed"))
    sub.offer(job(3, "processing"))
    sub.offer(job(2, "completed"))  # the snapshot again, after a reconnect
    sub.end(NotFoundError(404, "Not Found", "gone"))
    assert [item["status"] for item in await drain(sub)] == ["pending", "completed"]
    assert sub.done


async def test_subscription_takes_a_final_status_with_a_reused_version() -> None:
    # A server killed before persisting its progress may number the final change
    # lower than progress this watcher already saw: the final state still counts.
    sub = Subscription("j")
    sub.offer(job(9))
    sub.offer(job(7, "completed"))
    assert [item["status"] for item in await drain(sub)] == ["processing", "completed"]


async def test_subscription_end_is_delivered_once() -> None:
    sub = Subscription("j")
    sub.offer(job(1))
    sub.end(FALLBACK)
    sub.end(NotFoundError(404, "Not Found", "gone"))
    sub.offer(job(2))
    assert await drain(sub) == [job(1), FALLBACK]
