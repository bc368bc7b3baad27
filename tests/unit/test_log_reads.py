"""SharedLogReads: streams that ask the same read before it starts share it and its
encoded page; one that asks once it is under way gets a read of its own (which sees
later changes); a cancelled or failing read leaves nothing behind."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from _support import make_job, wait_until

from vts.errors import StoreUnavailableError
from vts.events.log_reads import Page, Shared, SharedLogReads
from vts.snapshot import Snapshot

JOB = "00000000-0000-4000-8000-00000000000a"


class Log:
    """An event log in a list whose reads can be held at a gate, counting them."""

    def __init__(self) -> None:
        self.events: list[tuple[int, Snapshot]] = []
        self.calls: list[tuple[str | None, int]] = []
        self.started = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.error: Exception | None = None
        self.encoded = 0

    def append(self, tenant: str = "acme") -> None:
        seq = len(self.events) + 1
        job = make_job(JOB, tenant=tenant, version=seq)
        self.events.append((seq, Snapshot.of(job)))

    async def events_after(
        self,
        tenant: str | None,
        after: int,
        job_ids: Sequence[str] | None,
        limit: int,
    ) -> Page:
        self.calls.append((tenant, after))
        # The query is sent: what it returns is what is committed now.
        page = [
            (seq, s)
            for seq, s in self.events
            if seq > after and tenant in (None, s.tenant)
        ][:limit]
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return page

    def encode(self, page: Page) -> list[bytes]:
        self.encoded += 1
        return [b"%d" % seq for seq, _ in page]


async def ask(
    reads: SharedLogReads,
    log: Log,
    tenant: str | None = "acme",
    after: int = 0,
    job_ids: list[str] | None = None,
) -> Shared:
    return await reads.events_after(log, tenant, after, job_ids, 10, log.encode)


def seqs(shared: Shared) -> list[int]:
    page, encoded = shared
    assert encoded == [b"%d" % seq for seq, _ in page]
    return [seq for seq, _ in page]


async def test_reads_asked_in_one_turn_are_one_read_and_one_page() -> None:
    log, reads = Log(), SharedLogReads()
    log.append()
    shared = await asyncio.gather(*(ask(reads, log) for _ in range(20)))
    assert log.calls == [("acme", 0)]
    assert log.encoded == 1
    assert all(one is shared[0] for one in shared)
    assert seqs(shared[0]) == [1]
    assert len(reads) == 0


async def test_each_tenant_scope_cursor_and_filter_is_its_own_read() -> None:
    log, reads = Log(), SharedLogReads()
    log.append("acme")
    log.append("globex")
    asks = [
        ("acme", 0, None),
        ("acme", 0, None),
        ("globex", 0, None),
        (None, 0, None),
        (None, 0, None),
        ("acme", 1, None),
        ("acme", 0, [JOB]),
        ("acme", 0, [JOB]),
    ]
    shared = await asyncio.gather(*(ask(reads, log, *question) for question in asks))
    assert sorted(log.calls, key=str) == sorted(
        [("acme", 0), ("globex", 0), (None, 0), ("acme", 1), ("acme", 0)], key=str
    )
    assert [seqs(one) for one in shared] == [
        [1], [1], [2], [1, 2], [1, 2], [], [1], [1]
    ]  # fmt: skip


async def test_a_read_under_way_is_not_joined_so_a_later_change_is_read() -> None:
    """A stream woken by a change committed after a read's query was sent must not
    get that read's page: it would miss the change until the next one."""
    log, reads = Log(), SharedLogReads()
    log.append()
    log.gate = asyncio.Event()
    under_way = asyncio.create_task(ask(reads, log))
    await log.started.wait()
    log.append()  # the hub wakes a stream for it, which asks now
    late = asyncio.create_task(ask(reads, log))
    log.gate.set()
    assert seqs(await under_way) == [1]
    assert seqs(await late) == [1, 2]
    assert log.calls == [("acme", 0), ("acme", 0)]
    assert len(reads) == 0


async def test_a_cancelled_stream_leaves_the_read_to_the_others() -> None:
    log, reads = Log(), SharedLogReads()
    log.append()
    log.gate = asyncio.Event()
    leaving = asyncio.create_task(ask(reads, log))
    staying = asyncio.create_task(ask(reads, log))
    await log.started.wait()
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    log.gate.set()
    assert seqs(await staying) == [1]
    assert log.calls == [("acme", 0)]
    assert len(reads) == 0


async def test_a_failed_read_fails_every_stream_that_joined_and_is_forgotten() -> None:
    log, reads = Log(), SharedLogReads()
    log.error = StoreUnavailableError("down")
    outcomes = await asyncio.gather(
        *(ask(reads, log) for _ in range(3)),
        return_exceptions=True,
    )
    assert all(isinstance(o, StoreUnavailableError) for o in outcomes)
    assert len(reads) == 0
    log.error = None
    assert seqs(await ask(reads, log)) == []
    assert len(log.calls) == 2


async def test_a_read_whose_streams_all_left_still_finishes_and_is_forgotten() -> None:
    log, reads = Log(), SharedLogReads()
    log.gate = asyncio.Event()
    log.error = StoreUnavailableError("down")  # retrieved, never "never retrieved"
    alone = asyncio.create_task(ask(reads, log))
    await log.started.wait()
    alone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await alone
    assert len(reads) == 1
    log.gate.set()
    await wait_until(lambda: len(reads) == 0, message="the read forgotten")
    assert len(log.calls) == 1
