"""Background loops that outlive their own bugs: a crash is logged, then the loop restarts.

A job service's loops (claiming, lease renewal, reaping, broker flush, relay) must
never stop for good because one iteration met an exception nobody foresaw, such as
a driver error during a database restart: a dead claim loop leaves every new job
pending forever with nothing in the log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

RESTART_SECONDS = (0.1, 0.5, 1.0, 2.0, 5.0)
"""Pause before each consecutive restart; the last value repeats."""


def supervise(
    name: str,
    loop: Callable[[], Coroutine[Any, Any, None]],
    *,
    on_crash: Callable[[str], None] | None = None,
) -> asyncio.Task[None]:
    """Run `loop()` in a task named `name`; restart it whenever it raises.

    A loop that returns ends the task; cancelling the task stops it. `on_crash` is
    told the name of each crashed loop (for a metric).
    """
    return asyncio.create_task(_run(name, loop, on_crash), name=name)


async def _run(
    name: str,
    loop: Callable[[], Coroutine[Any, Any, None]],
    on_crash: Callable[[str], None] | None,
) -> None:
    crashes = 0
    while True:
        try:
            await loop()
            return
        except Exception:
            delay = RESTART_SECONDS[min(crashes, len(RESTART_SECONDS) - 1)]
            crashes += 1
            log.exception("%s crashed; restarting it in %.1fs", name, delay)
            if on_crash is not None:
                on_crash(name)
            await asyncio.sleep(delay)
