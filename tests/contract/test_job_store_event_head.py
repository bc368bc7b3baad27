"""The JobStore contract, the head of the event log: `newest_event_seq` names the
last seq handed out, before the first event, after pruning and after a restart."""

from __future__ import annotations

from _support import FAR_FUTURE, make_job

from vts import registry
from vts.config import Settings
from vts.ports import JobStore


def job_id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def test_newest_event_seq_is_the_last_seq_even_once_pruned(
    store: JobStore, store_settings: Settings
) -> None:
    assert await store.newest_event_seq() == 0
    for n in range(3):
        await store.create(make_job(job_id(n)), None)
    events = await store.events_after(None, 0, None, 100)
    assert await store.newest_event_seq() == events[-1][0]
    assert await store.purge_events(FAR_FUTURE, 100) == 3
    assert await store.oldest_event_seq() is None
    assert await store.newest_event_seq() == events[-1][0]
    await store.close()

    reopened = registry.create_store(store_settings)
    await reopened.open()
    try:
        assert await reopened.newest_event_seq() == events[-1][0]
        await reopened.create(make_job(job_id(9)), None)
        ((seq, _),) = await reopened.events_after(None, events[-1][0], None, 100)
        assert await reopened.newest_event_seq() == seq
    finally:
        await reopened.close()
