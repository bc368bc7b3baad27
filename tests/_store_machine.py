"""The frame both store state machines share: a fresh store per example, on its loop."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from _postgres import PostgresServer
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test

from vts import registry
from vts.config import Settings

T = TypeVar("T")


class StoreMachine(RuleBasedStateMachine):
    """Opens a new, migrated store for each example (a SQLite file unless a subclass
    names another database) and runs coroutines on the example's own loop: Hypothesis
    steps are synchronous, and the store's writer task and connections live there."""

    def database_url(self) -> str:
        return f"sqlite:///{Path(self.tmp.name) / 'jobs.db'}"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.tmp = tempfile.TemporaryDirectory(prefix="vts-state-machine-")
        self.store = registry.create_store(Settings(database_url=self.database_url()))
        try:
            self.run(self.store.open())
            self.run(self.store.migrate())
        except BaseException:
            self.teardown()
            raise

    def teardown(self) -> None:
        try:
            self.run(self.store.close())
        finally:
            self.loop.close()
            self.tmp.cleanup()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)


def run_machine(
    machine: type[StoreMachine],
    examples: int,
    postgres_server: PostgresServer | None = None,
) -> None:
    """Run `machine` on SQLite, or, given a server, on a new Postgres database per
    example."""
    if postgres_server is not None:
        server = postgres_server

        class OnPostgres(machine):  # type: ignore[valid-type,misc]
            def database_url(self) -> str:
                return server.create_database(f"sm_{uuid.uuid4().hex}")

        machine = OnPostgres
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=examples, stateful_step_count=30, deadline=None),
    )
