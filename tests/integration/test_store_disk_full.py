"""Each store on a real tmpfs that fills up: writes fail as not writable, ping says so,
reads go on, and once space is back an idle store is ready again (its write probe)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import pytest
from _postgres import PostgresServer
from _support import T0, make_job, opened_store, wait_until
from _tmpfs import fill, free_bytes, tmpfs

from vts.config import Settings
from vts.errors import StoreNotWritableError
from vts.ports import JobStore

pytestmark = pytest.mark.disk


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tmpfs(tmp_path / "disk", "2m") as mount:
        yield mount


@pytest.fixture
async def sqlite_store(disk: Path) -> AsyncIterator[JobStore]:
    async with opened_store(Settings(database_url=f"sqlite:///{disk / 'vts.db'}")) as s:
        yield s


@pytest.fixture
async def postgres_on_disk() -> AsyncIterator[tuple[JobStore, Path]]:
    """Postgres of its own whose tables live in a tablespace on a small disk (its
    write-ahead log does not: Postgres itself stops when that cannot be written).
    The disk is mounted inside the server's own directory, which its user can reach."""
    server = PostgresServer()
    try:
        with tmpfs(server.root / "disk", "2m") as disk:
            try:
                tablespace = disk / "tablespace"
                tablespace.mkdir()
                if server.user is not None:
                    shutil.chown(tablespace, server.user)
                server.psql(f"CREATE TABLESPACE small LOCATION '{tablespace}'")
                url = server.create_database("disk")
                server.psql("ALTER DATABASE disk SET default_tablespace = small")
                async with opened_store(Settings(database_url=url)) as store:
                    yield store, disk
            finally:
                server.close()  # before the unmount: no file of the disk stays open
    finally:
        server.close()


@pytest.fixture
async def postgres_data_on_disk() -> AsyncIterator[tuple[JobStore, Path]]:
    """Postgres whose whole data directory (its write-ahead log too) is on a 64 MiB
    disk. A full disk refuses the first write that needs a new page; the WAL goes on
    into the 16 MiB segment already on disk, which these few writes do not fill (had
    it to start a new one, Postgres would stop until space is back)."""
    parent = Path(tempfile.mkdtemp(prefix="vts-pg-disk-"))
    parent.chmod(0o755)  # the server's user must reach the mount inside
    try:
        with tmpfs(parent / "disk", "64m") as disk:
            server = PostgresServer(root=disk)
            try:
                url = server.create_database("disk")
                async with opened_store(Settings(database_url=url)) as store:
                    yield store, disk
            finally:
                server.close()
    finally:
        shutil.rmtree(parent, ignore_errors=True)


async def _fill_until_refused(store: JobStore, disk: Path) -> tuple[Path, list[str]]:
    """Fill the disk; create jobs until the store refuses one. The ids created."""
    filler = fill(disk)
    created = []
    with pytest.raises(StoreNotWritableError) as refused:
        for _ in range(1000):
            job = make_job(str(uuid.uuid4()))
            await store.create(job, None)
            created.append(job.job_id)
    assert "full" in refused.value.message or "No space" in refused.value.message
    return filler, created


async def _ready(store: JobStore) -> bool:
    try:
        await store.ping()
    except StoreNotWritableError:
        return False
    return True


async def _exercise(store: JobStore, disk: Path) -> None:
    first = make_job(str(uuid.uuid4()))
    await store.create(first, None)
    await store.ping()

    filler, created = await _fill_until_refused(store, disk)
    with pytest.raises(StoreNotWritableError):
        await store.ping()
    # A transaction that changes nothing commits even on a full disk, and an update
    # may fit in a page the database has: neither shows that new jobs fit again.
    with contextlib.suppress(StoreNotWritableError):
        assert await store.renew_leases("nobody", [first.job_id], T0) == set()
    with contextlib.suppress(StoreNotWritableError):
        await store.update(attrs.evolve(first, version=2, progress=5), 1)
        first = await store.get(first.job_id, tenant=None)
    with pytest.raises(StoreNotWritableError):
        await store.ping()
    assert (await store.get(first.job_id, tenant=None)).job_id == first.job_id
    with pytest.raises(StoreNotWritableError):
        await store.ping()

    filler.unlink()
    # Nothing writes: the probe finds that the store can write again.
    await wait_until(lambda: _ready(store), 10, 0.05, "the store ready again")
    later = make_job(str(uuid.uuid4()))
    assert (await store.create(later, None))[1]
    for job_id in [first.job_id, *created, later.job_id]:
        assert (await store.get(job_id, tenant=None)).job_id == job_id
    page = await store.list_jobs(None, 1000, None, tenant=None)
    assert all(job.status.value != "probe" for job in page.jobs)


async def test_sqlite_wal_leaves_room_on_a_small_disk(
    sqlite_store: JobStore, disk: Path
) -> None:
    """SQLite checkpoints its log after 1000 pages (4 MiB): on this 2 MiB disk the log
    alone used to fill it. Many small writes now leave most of the disk free."""
    job = make_job(str(uuid.uuid4()))
    await sqlite_store.create(job, None)
    for version in range(1, 600):
        changed = attrs.evolve(job, version=version + 1, progress=version % 100)
        await sqlite_store.update(changed, version)
        job = changed
    await sqlite_store.ping()
    assert free_bytes(disk) > 1024 * 1024


async def test_sqlite_store_on_a_full_disk(sqlite_store: JobStore, disk: Path) -> None:
    await _exercise(sqlite_store, disk)


@pytest.mark.services
async def test_postgres_store_on_a_full_disk(
    postgres_on_disk: tuple[JobStore, Path],
) -> None:
    await _exercise(*postgres_on_disk)


@pytest.mark.services
async def test_postgres_with_its_data_directory_on_a_full_disk(
    postgres_data_on_disk: tuple[JobStore, Path],
) -> None:
    await _exercise(*postgres_data_on_disk)
