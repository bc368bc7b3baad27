"""Which asyncpg errors mean "Postgres is away" (503, retried) and which are bugs."""

from __future__ import annotations

import asyncpg
import pytest

from vts.errors import StoreNotWritableError, StoreUnavailableError
from vts.stores.postgres import _driver_errors

UNAVAILABLE = [
    ConnectionRefusedError(111, "Connection refused"),
    TimeoutError("connect timed out"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle"),
    asyncpg.CannotConnectNowError("the database system is shutting down"),
    asyncpg.AdminShutdownError("terminating connection due to administrator command"),
    asyncpg.InterfaceError("cannot perform operation: connection is closed"),
    asyncpg.TooManyConnectionsError("sorry, too many clients already"),
    # What a pooled connection's reset raises when Postgres stops under it.
    asyncpg.InternalClientError("cannot switch to state 15; another operation (2)"),
]


@pytest.mark.parametrize("error", UNAVAILABLE, ids=lambda e: type(e).__name__)
async def test_lost_connections_become_store_unavailable(error: Exception) -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        async with _driver_errors():
            raise error
    assert caught.value.__cause__ is error


NOT_WRITABLE = [
    asyncpg.DiskFullError("could not extend file: No space left on device"),
    asyncpg.ReadOnlySQLTransactionError(
        "cannot execute INSERT in a read-only transaction"
    ),
]


@pytest.mark.parametrize("error", NOT_WRITABLE, ids=lambda e: type(e).__name__)
async def test_a_full_disk_or_a_read_only_database_is_not_writable(
    error: Exception,
) -> None:
    """Still a 503 (StoreUnavailableError), but readiness tells it apart."""
    with pytest.raises(StoreNotWritableError) as caught:
        async with _driver_errors():
            raise error
    assert caught.value.__cause__ is error
    assert "Postgres cannot write" in caught.value.message


async def test_query_errors_are_not_mistaken_for_an_outage() -> None:
    error = asyncpg.UniqueViolationError("duplicate key value")
    with pytest.raises(asyncpg.UniqueViolationError):
        async with _driver_errors():
            raise error
