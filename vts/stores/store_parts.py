"""What the stores' method mixins (keys, events, reads) need of the store they are part of.

Each mixin (e.g. `SqliteKeys`) holds one concern's queries; the store class that
combines them provides these connections and helpers. Declared once here, so the
mixins type-check alone and a store missing one fails loudly.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

if TYPE_CHECKING:
    import asyncpg

T = TypeVar("T")


class SqliteParts:
    """The SQLite store's reader connection, writer connection and writer thread."""

    @property
    def _r(self) -> aiosqlite.Connection:
        raise NotImplementedError

    @property
    def _w(self) -> sqlite3.Connection:
        raise NotImplementedError

    async def _in_writer(self, fn: Callable[..., T], *args: Any) -> T:
        raise NotImplementedError

    def _errors(self) -> Any:
        raise NotImplementedError


class PostgresParts:
    """The Postgres store's pool and its driver-error translation."""

    @property
    def pool(self) -> asyncpg.Pool:
        raise NotImplementedError

    def _errors(self) -> Any:
        raise NotImplementedError
