"""The JobStore contract for tenants, and the KeyStore: run against every store backend."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
from _support import T0, make_job, opened_store

from contract.test_job_store_lease_losses import is_sqlite, raw
from vts.apikeys import Tenant, new_key
from vts.codec import job_to_record
from vts.config import Settings
from vts.domain import Claim, Fail, JobError, JobStatus, transition
from vts.errors import IdempotencyKeyReusedError, JobNotFoundError
from vts.idempotency import IdempotencyClaim
from vts.ports import JobStore, KeyStore
from vts.stores import migrations


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_a_job_of_another_tenant_is_not_found(store: JobStore) -> None:
    mine, _ = await store.create(make_job(job_id(1), tenant="acme"), None)
    assert await store.get(mine.job_id, tenant="acme") == mine
    assert await store.get(mine.job_id, tenant=None) == mine  # an admin
    with pytest.raises(JobNotFoundError) as caught:
        await store.get(mine.job_id, tenant="globex")
    # Exactly what an unknown id gets.
    with pytest.raises(JobNotFoundError) as unknown:
        await store.get(job_id(404), tenant="globex")
    assert type(caught.value) is type(unknown.value)
    assert caught.value.message == f"no job with id {mine.job_id}"


async def test_lists_show_only_the_tenants_jobs(store: JobStore) -> None:
    tenants = ["acme", "globex", "acme", "default", "globex", "acme"]
    jobs = [
        (await store.create(make_job(job_id(n), tenant=t), None))[0]
        for n, t in enumerate(tenants)
    ]
    for tenant in ("acme", "globex", "default", "initech"):
        expected = [j.job_id for j in reversed(jobs) if j.tenant == tenant]
        seen: list[str] = []
        cursor = None
        while True:  # page by two: the cursor stays inside the tenant
            page = await store.list_jobs(None, 2, cursor, tenant=tenant)
            seen += [j.job_id for j in page.jobs]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == expected, tenant
        pending = await store.list_jobs(JobStatus.PENDING, 10, None, tenant=tenant)
        assert [j.job_id for j in pending.jobs] == expected
    everyone = await store.list_jobs(None, 10, None, tenant=None)
    assert [j.job_id for j in everyone.jobs] == [j.job_id for j in reversed(jobs)]


async def test_dead_letters_show_only_the_tenants_jobs(store: JobStore) -> None:
    dead = {}
    for n, tenant in enumerate(["acme", "globex", "acme"]):
        job, _ = await store.create(
            make_job(job_id(n), tenant=tenant, max_attempts=1), None
        )
        ((claimed, _),) = await store.claim(
            T0, 1, lambda j: transition(j, _claim_event(), T0)
        )
        failed = transition(claimed, Fail(JobError("boom", "no", False)), T0)
        await store.update(failed, claimed.version)
        dead[job.job_id] = tenant
    acme = await store.dead_letters(10, tenant="acme")
    assert {j.job_id for j in acme} == {i for i, t in dead.items() if t == "acme"}
    assert [j.tenant for j in await store.dead_letters(10, tenant="globex")] == [
        "globex"
    ]
    assert await store.dead_letters(10, tenant="initech") == []
    assert len(await store.dead_letters(10, tenant=None)) == 3


def _claim_event() -> Claim:
    return Claim("worker", T0 + timedelta(seconds=30))


async def test_idempotency_keys_are_scoped_per_tenant(store: JobStore) -> None:
    claim = IdempotencyClaim("order-42", "fp-a")
    first, created = await store.create(make_job(job_id(1), tenant="acme"), claim)
    other, other_created = await store.create(
        make_job(job_id(2), tenant="globex"), claim
    )
    assert created and other_created  # two tenants, two jobs
    assert (first.tenant, other.tenant) == ("acme", "globex")
    again, again_created = await store.create(make_job(job_id(3), tenant="acme"), claim)
    assert (again, again_created) == (first, False)
    with pytest.raises(IdempotencyKeyReusedError):
        await store.create(
            make_job(job_id(4), tenant="globex"), IdempotencyClaim("order-42", "fp-b")
        )
    # The same key by two tenants in one batch: still two jobs.
    both = await asyncio.gather(
        store.create(make_job(job_id(5), tenant="a"), IdempotencyClaim("k", "f")),
        store.create(make_job(job_id(6), tenant="b"), IdempotencyClaim("k", "f")),
    )
    assert [created for _, created in both] == [True, True]


async def test_the_tenant_survives_the_round_trip(store: JobStore) -> None:
    job, _ = await store.create(make_job(job_id(1), tenant="acme-7"), None)
    assert (await store.get(job.job_id, tenant=None)).tenant == "acme-7"
    assert make_job().tenant == "default"


# --- the KeyStore ----------------------------------------------------------------


def _tenant(name: str, max_active: int = 10, rps: float = 0.0) -> Tenant:
    return Tenant(name, max_active, rps, T0)


async def test_keys_round_trip_and_create_their_tenant(store: JobStore) -> None:
    assert isinstance(store, KeyStore)
    key, token = new_key("acme", ["jobs:read", "jobs:write"], T0, T0 + timedelta(1))
    await store.create_key(key, _tenant("acme", 7, 1.5))
    assert await store.get_key(key.id) == key
    assert await store.get_key("0123456789ab") is None
    assert token.startswith(f"vts_{key.id}_") and key.secret_hash not in token
    assert await store.get_tenant("acme") == _tenant("acme", 7, 1.5)
    # A second key keeps the tenant's quotas.
    other, _ = new_key("acme", ["dlq"], T0 + timedelta(seconds=1))
    await store.create_key(other, _tenant("acme", 999, 9))
    assert await store.get_tenant("acme") == _tenant("acme", 7, 1.5)
    assert await store.list_keys("acme") == [key, other]
    assert await store.list_keys("globex") == []
    assert await store.list_keys(None) == [key, other]


async def test_revoked_and_expired_keys_are_not_usable(store: JobStore) -> None:
    assert isinstance(store, KeyStore)
    assert not await store.has_usable_key(T0)
    expiring, _ = new_key("acme", ["admin"], T0, T0 + timedelta(seconds=10))
    await store.create_key(expiring, _tenant("acme"))
    assert await store.has_usable_key(T0 + timedelta(seconds=9))
    assert not await store.has_usable_key(T0 + timedelta(seconds=10))
    forever, _ = new_key("acme", ["admin"], T0)
    await store.create_key(forever, _tenant("acme"))
    assert await store.has_usable_key(T0 + timedelta(days=9999))
    revoked = await store.revoke_key(forever.id, T0 + timedelta(seconds=5))
    assert revoked is not None
    assert revoked.revoked_at == T0 + timedelta(seconds=5)
    # Revoking again keeps the first time.
    again = await store.revoke_key(forever.id, T0 + timedelta(seconds=50))
    assert again == revoked == await store.get_key(forever.id)
    assert await store.revoke_key("0123456789ab", T0) is None
    assert not await store.has_usable_key(T0 + timedelta(seconds=11))


async def test_key_use_is_recorded_in_one_write(store: JobStore) -> None:
    assert isinstance(store, KeyStore)
    keys = [new_key("acme", ["jobs:read"], T0)[0] for _ in range(3)]
    for key in keys:
        await store.create_key(key, _tenant("acme"))
    later = T0 + timedelta(minutes=1)
    await store.record_key_use({keys[0].id: later, keys[1].id: T0, "unknown": T0})
    await store.record_key_use({keys[0].id: T0})  # never moves backwards
    got = {k.id: k.last_used_at for k in await store.list_keys("acme")}
    assert got == {keys[0].id: later, keys[1].id: T0, keys[2].id: None}
    await store.record_key_use({})


async def test_tenants_are_upserted_and_listed(store: JobStore) -> None:
    assert isinstance(store, KeyStore)
    assert await store.list_tenants() == []
    created = await store.put_tenant(_tenant("globex", 5, 2))
    assert created == _tenant("globex", 5, 2)
    later = Tenant("globex", 50, 0.5, T0 + timedelta(days=1))
    changed = await store.put_tenant(later)
    assert changed == Tenant("globex", 50, 0.5, T0)  # created_at kept
    await store.put_tenant(_tenant("acme"))
    assert [t.name for t in await store.list_tenants()] == ["acme", "globex"]
    assert await store.get_tenant("initech") is None


async def test_an_upgraded_store_keeps_jobs_and_keys_in_the_default_tenant(
    store_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    every = migrations.load
    backend = "sqlite" if is_sqlite(store_settings) else "postgresql"
    (newest,) = [n for n, _ in every(backend) if n.endswith("add_tenants")]
    with monkeypatch.context() as patch:  # the schema as the older vts left it
        patch.setattr(
            migrations, "load", lambda b: [m for m in every(b) if m[0] < newest]
        )
        async with opened_store(store_settings):
            pass
    old = make_job(job_id(1))
    body = orjson.loads(job_to_record(old))
    del body["tenant"]  # an older vts wrote no tenant
    await raw(
        store_settings,
        "INSERT INTO jobs (job_id, status, version, available_at, idempotency_key,"
        " fingerprint, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
        old.job_id,
        old.status.value,
        old.version,
        old.available_at,
        "order-7",
        "fp",
        orjson.dumps(body).decode(),
    )
    async with opened_store(store_settings) as store:
        assert await store.get(old.job_id, tenant="default") == old
        with pytest.raises(JobNotFoundError):
            await store.get(old.job_id, tenant="acme")
        page = await store.list_jobs(None, 10, None, tenant="default")
        assert [j.job_id for j in page.jobs] == [old.job_id]
        # Its Idempotency-Key now belongs to the default tenant, and only to it.
        claim = IdempotencyClaim("order-7", "fp")
        again, created = await store.create(make_job(job_id(2)), claim)
        assert (again, created) == (old, False)
        theirs, created = await store.create(make_job(job_id(3), tenant="acme"), claim)
        assert created and theirs.tenant == "acme"


async def test_counts_by_status_of_one_tenant(store: JobStore) -> None:
    for n, tenant in enumerate(["acme", "acme", "globex"]):
        await store.create(make_job(job_id(n), tenant=tenant), None)
    (claimed, _), *_ = await store.claim(
        T0, 1, lambda j: transition(j, _claim_event(), T0)
    )

    acme = await store.count_by_status("acme")
    assert acme == {
        **dict.fromkeys(JobStatus, 0),
        JobStatus.PENDING: 1,
        JobStatus.PROCESSING: 1,
    }
    assert claimed.tenant == "acme"
    assert (await store.count_by_status("globex"))[JobStatus.PENDING] == 1
    assert await store.count_by_status("nobody") == dict.fromkeys(JobStatus, 0)
    assert sum((await store.count_by_status()).values()) == 3
