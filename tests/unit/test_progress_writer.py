"""ProgressWriter: a job's reports are written at most once per interval, the first at
once, and the outcome never waits for the interval."""

from __future__ import annotations

import asyncio

from vts.domain import Progress
from vts.worker.progress import ProgressWriter

JOB = "00000000-0000-4000-8000-000000000001"


class Recorder:
    """The `advance` a worker passes: records each write."""

    def __init__(self) -> None:
        self.written: list[int] = []
        self.wrote = asyncio.Event()

    async def advance(self, job_id: str, event: Progress) -> None:
        assert job_id == JOB
        self.written.append(event.progress)
        self.wrote.set()


async def test_the_first_report_is_written_at_once_and_the_rest_coalesce() -> None:
    recorder = Recorder()
    writer = ProgressWriter(recorder.advance, JOB, interval=60.0)
    await writer.report(10, "downloading")
    await asyncio.wait_for(recorder.wrote.wait(), 5)
    for percent in (20, 30, 40):
        await writer.report(percent, "transcribing")
    # The outcome comes long before the interval ends: it waits for none of it,
    # and the reports not yet written are superseded by it.
    await asyncio.wait_for(writer.settle(), 5)
    assert recorder.written == [10]


async def test_with_no_interval_every_report_waits_only_for_the_write_before() -> None:
    recorder = Recorder()
    writer = ProgressWriter(recorder.advance, JOB, interval=0.0)
    for percent in (10, 20, 30):
        await writer.report(percent, None)
        await asyncio.sleep(0)  # the writer takes the newest report when it starts
    await writer.settle()
    assert recorder.written[0] == 10 and recorder.written == sorted(recorder.written)


async def test_reports_after_the_interval_are_written_newest_first() -> None:
    recorder = Recorder()
    writer = ProgressWriter(recorder.advance, JOB, interval=0.05)
    await writer.report(10, None)
    await asyncio.wait_for(recorder.wrote.wait(), 5)
    recorder.wrote.clear()
    await writer.report(20, None)
    await writer.report(30, None)
    await asyncio.wait_for(recorder.wrote.wait(), 5)  # once the interval is over
    assert recorder.written == [10, 30]
    await writer.settle()
