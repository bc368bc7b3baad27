"""Postgres replicas share one event log whose seqs are commit order: a consumer that
resumes after any seq it has seen never misses an event committed later."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from _postgres import PostgresServer
from _support import T0, make_job, opened_store, wait_until

from vts.config import Settings
from vts.domain import Cancel, Claim, transition
from vts.ports import JobStore
from vts.snapshot import Snapshot
from vts.stores.batching import CreateOp
from vts.stores.postgres_writes import write_batch

pytestmark = pytest.mark.services


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_a_batch_committing_later_never_takes_a_lower_seq(
    postgres_server: PostgresServer,
) -> None:
    """Replica A's batch has logged its event but not committed; replica B's batch
    waits for it instead of taking a seq that a reader could see before A's."""
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex}")
    async with opened_store(Settings(database_url=url)) as replica_b:
        held = await asyncpg.connect(url)
        watcher = await asyncpg.connect(url)
        try:
            transaction = held.transaction()
            await transaction.start()
            first = make_job(job_id(1))
            await write_batch(held, [CreateOp(first, None, Snapshot.of(first))])
            later = asyncio.create_task(replica_b.create(make_job(job_id(2)), None))

            async def b_waits_for_a() -> bool:
                waiting: int = await watcher.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return waiting == 1

            await wait_until(b_waits_for_a, message="B's batch waiting on A's")
            assert not later.done()
            assert await replica_b.events_after(None, 0, None, 10) == []
            await transaction.commit()
            await later
        finally:
            await held.close()
            await watcher.close()
        events = await replica_b.events_after(None, 0, None, 10)
        assert [(seq, s.job_id) for seq, s in events] == [
            (1, job_id(1)),
            (2, job_id(2)),
        ]


async def test_a_tailing_reader_sees_every_event_of_two_busy_replicas(
    postgres_server: PostgresServer,
) -> None:
    """Two replicas create, claim and cancel jobs at once; a reader resuming after
    the last seq it saw, page by page while they write, ends with the whole log."""
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex}")
    settings = Settings(database_url=url)
    async with opened_store(settings) as one, opened_store(settings) as two:
        done = asyncio.Event()

        async def write(replica: int, store: JobStore) -> None:
            for n in range(40):
                job, _ = await store.create(make_job(job_id(replica * 1000 + n)), None)
                claimed = transition(job, Claim("w", T0 + timedelta(seconds=30)), T0)
                await store.update(claimed, job.version)
                await store.update(transition(claimed, Cancel(), T0), claimed.version)

        seen: list[tuple[int, Snapshot]] = []

        async def tail() -> None:
            cursor = 0
            while True:
                finished = done.is_set()
                page = await one.events_after(None, cursor, None, 7)
                seen.extend(page)
                if page:
                    cursor = page[-1][0]
                elif finished:
                    return
                else:
                    await asyncio.sleep(0)

        reader = asyncio.create_task(tail())
        await asyncio.gather(write(1, one), write(2, two))
        done.set()
        await reader
        everything = await two.events_after(None, 0, None, 10_000)
        assert len(everything) == 240
        assert seen == everything
        for n in (1001, 2039):
            mine = [s.version for _, s in seen if s.job_id == job_id(n)]
            assert mine == [1, 2, 3]


async def test_two_replicas_prune_the_log_together(
    postgres_server: PostgresServer,
) -> None:
    """Every replica's retention sweeper prunes; together they delete each event once."""
    url = postgres_server.create_database(f"t_{uuid.uuid4().hex}")
    settings = Settings(database_url=url)
    async with opened_store(settings) as one, opened_store(settings) as two:
        await asyncio.gather(
            *(one.create(make_job(job_id(n)), None) for n in range(200))
        )
        cut = datetime(2100, 1, 1, tzinfo=UTC)

        async def sweep(store: JobStore) -> int:
            total = 0
            while purged := await store.purge_events(cut, 7):
                total += purged
            return total

        assert sum(await asyncio.gather(sweep(one), sweep(two))) == 200
        assert await one.events_after(None, 0, None, 10) == []
