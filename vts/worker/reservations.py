"""Slots a worker pool holds for jobs being created already claimed for it."""

from __future__ import annotations

import asyncio
import contextlib


class Reservations:
    """A count of held slots, and a wait for none to be held (the drain's)."""

    def __init__(self) -> None:
        self.held = 0
        self._none = asyncio.Event()
        self._none.set()

    def hold(self) -> None:
        self.held += 1
        self._none.clear()

    def release(self) -> None:
        self.held -= 1
        if self.held == 0:
            self._none.set()

    async def settled(self, timeout: float) -> None:
        """Return once no slot is held (their creates have landed or failed), or
        after `timeout` seconds."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._none.wait(), timeout)
