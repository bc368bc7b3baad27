"""When the sender must look at the outbox again: the store's last answer to
`next_delivery_due`, kept while it still holds, so that an endpoint with every slot
in flight and a long backlog is not read on each pass of the sender's loop."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import attrs


@attrs.define
class NextDue:
    """The next delivery due among the endpoints that are not full, as last read
    (`due`; None: nothing pending).

    An answer that left out the endpoints `full` still holds while every one of them
    is still full (leaving more out can only make it later, and waking early is
    harmless), until its time comes, and until new work may have come: deliveries
    made, a retry recorded, an endpoint enabled (`forget`). What another replica
    does is seen at the sender's safety timer, as before.
    """

    due: datetime | None = None
    _full: frozenset[str] = frozenset()
    _known: bool = False
    _forgotten: int = 0

    def holds(self, full: Collection[str], now: datetime) -> bool:
        """Whether `due` still holds, with the endpoints `full` full at `now`."""
        if not self._known or not self._full <= set(full):
            return False
        return self.due is None or self.due > now

    def ticket(self) -> int:
        """Take one before asking the store; `learn` with it."""
        return self._forgotten

    def learn(self, ticket: int, full: Collection[str], due: datetime | None) -> None:
        """The store's answer, asked for with `ticket` leaving out `full`: kept
        unless new work came while it was asked (it may predate it)."""
        self.due, self._full = due, frozenset(full)
        self._known = ticket == self._forgotten

    def forget(self) -> None:
        self._known = False
        self._forgotten += 1
