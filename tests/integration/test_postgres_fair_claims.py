"""Fair claims across replicas: two stores (two replicas' pools) on one Postgres
claim at once; a small tenant's job is taken in the first round and no job twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from _postgres import PostgresServer
from _support import T0, make_job, opened_store

from vts.config import Settings
from vts.domain import Claim, Job, transition
from vts.ports import JobStore

pytestmark = pytest.mark.services


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


@pytest.fixture
async def replicas(
    postgres_server: PostgresServer,
) -> AsyncIterator[tuple[JobStore, JobStore]]:
    settings = Settings(
        database_url=postgres_server.create_database(f"fair_{uuid.uuid4().hex}")
    )
    async with opened_store(settings) as one, opened_store(settings) as two:
        yield one, two


async def claim(store: JobStore, owner: str, limit: int) -> list[Job]:
    now: datetime = T0 + timedelta(seconds=1)
    event = Claim(owner, now + timedelta(seconds=30))
    claimed = await store.claim(now, limit, lambda job: transition(job, event, now))
    return [job for job, _ in claimed]


async def test_replicas_share_the_work_and_serve_every_tenant_first(
    replicas: tuple[JobStore, JobStore],
) -> None:
    one, two = replicas
    backlog = [job_id(n) for n in range(1000)]
    for chunk in range(0, len(backlog), 250):
        await asyncio.gather(
            *(
                one.create(make_job(i, tenant="acme"), None)
                for i in backlog[chunk : chunk + 250]
            )
        )
    small = {job_id(5000): "globex", job_id(5001): "initech"}
    for i, tenant in small.items():
        await two.create(make_job(i, tenant=tenant), None)

    first = await asyncio.gather(claim(one, "r1", 20), claim(two, "r2", 20))

    taken = [j.job_id for batch in first for j in batch]
    assert set(small) <= set(taken)  # in the first round, not after 1,000
    assert len(taken) == len(set(taken)) == 40  # SKIP LOCKED: full, disjoint
    rounds = [first]
    while any(rounds[-1]):
        rounds.append(
            list(await asyncio.gather(claim(one, "r1", 50), claim(two, "r2", 50)))
        )
    every = [j.job_id for batches in rounds for batch in batches for j in batch]
    assert sorted(every) == sorted([*backlog, *small])  # each exactly once
