"""Idempotency-Keys of webhook endpoints on every backend: a replay gets the endpoint
the key made (as it is now), another body the job's error, keys are per tenant and
kept as long as their endpoint."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from _support import T0, make_job
from _webhooks import endpoint, hooks, job_id

from vts.errors import IdempotencyKeyReusedError
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore
from vts.webhooks.model import new_secret

CLAIM = IdempotencyClaim("hook-1", "fp-a")


async def test_a_replay_returns_the_endpoint_the_key_made(store: JobStore) -> None:
    first = endpoint("acme")
    assert await hooks(store).create_endpoint(first, CLAIM) == (first, True)
    again = await hooks(store).create_endpoint(endpoint("acme"), CLAIM)
    assert again == (first, False)  # its id and its secret, not the retry's
    assert await hooks(store).list_endpoints(tenant=None) == [first]
    # As it is now: after a rotation, with the secret that signs.
    rotated = await hooks(store).rotate_secret(
        first.id, new_secret(), T0 + timedelta(days=1), tenant="acme"
    )
    assert rotated is not None
    assert await hooks(store).create_endpoint(endpoint("acme"), CLAIM) == (
        rotated,
        False,
    )


async def test_the_key_with_another_body_is_refused(store: JobStore) -> None:
    first = endpoint("acme")
    await hooks(store).create_endpoint(first, CLAIM)
    with pytest.raises(IdempotencyKeyReusedError):
        await hooks(store).create_endpoint(
            endpoint("acme"), IdempotencyClaim(CLAIM.key, "fp-b")
        )
    assert await hooks(store).list_endpoints(tenant=None) == [first]


async def test_keys_are_per_tenant_and_apart_from_job_keys(store: JobStore) -> None:
    await store.create(make_job(job_id(1)), IdempotencyClaim(CLAIM.key, "job-body"))
    mine, theirs = endpoint(), endpoint("globex")
    assert await hooks(store).create_endpoint(mine, CLAIM) == (mine, True)
    other_body = IdempotencyClaim(CLAIM.key, "fp-b")
    assert await hooks(store).create_endpoint(theirs, other_body) == (theirs, True)
    assert await hooks(store).create_endpoint(endpoint(), CLAIM) == (mine, False)
    without = [endpoint(), endpoint()]
    for e in without:
        assert await hooks(store).create_endpoint(e) == (e, True)
    assert len(await hooks(store).list_endpoints(tenant=None)) == 4


async def test_deleting_the_endpoint_frees_its_key(store: JobStore) -> None:
    first, second = endpoint(), endpoint()
    await hooks(store).create_endpoint(first, CLAIM)
    assert await hooks(store).delete_endpoint(first.id, tenant="default")
    assert await hooks(store).create_endpoint(second, CLAIM) == (second, True)


async def test_concurrent_retries_make_one_endpoint(store: JobStore) -> None:
    tries = [endpoint() for _ in range(8)]
    answers = await asyncio.gather(
        *(hooks(store).create_endpoint(e, CLAIM) for e in tries)
    )
    assert [created for _, created in answers].count(True) == 1
    (made,) = {e.id for e, _ in answers}
    assert [e.id for e in await hooks(store).list_endpoints(tenant=None)] == [made]
