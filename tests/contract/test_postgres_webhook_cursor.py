"""Postgres replicas share the dispatch cursor: while one holds it, another's
dispatch steps aside (SKIP LOCKED) instead of making the same deliveries."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from _postgres import PostgresServer
from _support import make_job, opened_store
from _webhooks import dispatch, endpoint, hooks, plan

from vts.config import Settings

pytestmark = pytest.mark.services


async def test_a_held_cursor_is_skipped_then_taken(
    postgres_server: PostgresServer,
) -> None:
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex}")
    async with opened_store(Settings(database_url=url)) as store:
        e = endpoint()
        await hooks(store).create_endpoint(e)
        await store.create(make_job(), None)
        other_replica = await asyncpg.connect(url)
        try:
            transaction = other_replica.transaction()
            await transaction.start()
            await other_replica.execute("SELECT seq FROM webhook_cursor FOR UPDATE")
            assert await hooks(store).dispatch_events(500, plan) is None
            await transaction.rollback()
        finally:
            await other_replica.close()
        assert await dispatch(store) == (1, 1)
