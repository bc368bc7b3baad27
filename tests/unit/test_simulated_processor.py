"""The simulated pipeline: instant runs, seeded reproducibility, failures, stage order."""

from __future__ import annotations

import time

import attrs
import pytest
from _support import make_job

from vts import registry
from vts.config import Settings
from vts.domain import STAGES
from vts.errors import PermanentError, PluginError, ProcessingError, TransientError
from vts.ports import Processor
from vts.processors.simulated import (
    PERMANENT_FAILURES,
    TRANSIENT_FAILURES,
    SimulatedProcessor,
    create_processor,
)
from vts.processors.simulated_settings import SimDuration, SimulatedSettings

INSTANT = SimDuration(0.0, 0.0)
Outcome = tuple[str, str]


async def no_report(progress: int, stage: str | None) -> None:
    return None


async def outcomes(processor: SimulatedProcessor, n: int) -> list[Outcome]:
    """What happened to each of `n` jobs: ("ok", output_url) or (error type, code)."""
    seen: list[Outcome] = []
    for i in range(n):
        job = make_job(f"00000000-0000-4000-8000-{i:012d}")
        try:
            result = await processor.run(job, no_report)
        except ProcessingError as exc:
            seen.append((type(exc).__name__, exc.code))
        else:
            seen.append(("ok", str(result["output_url"])))
    return seen


def test_create_processor_reads_its_own_settings() -> None:
    own = SimulatedSettings(sim_duration="0.5-2", sim_error_rate=0.3)
    processor = create_processor("simulated", Settings(processor_settings=own))
    assert isinstance(processor, Processor)
    assert (processor.duration, processor.error_rate) == (SimDuration(0.5, 2.0), 0.3)


def test_create_processor_without_its_settings_takes_their_defaults() -> None:
    processor = create_processor("simulated", Settings())
    assert (processor.duration, processor.error_rate) == (SimDuration(1.0, 5.0), 0.1)


def test_another_plugins_settings_are_refused_naming_both() -> None:
    @attrs.frozen
    class OtherSettings:
        pass

    settings = Settings(processor_settings=OtherSettings())
    with pytest.raises(PluginError, match=r"OtherSettings.*SimulatedSettings"):
        registry.create_processor(settings)


async def test_run_instant_without_errors_completes_with_result() -> None:
    processor = SimulatedProcessor(INSTANT, error_rate=0.0, seed=None)
    job = make_job(target_language="de")
    reports: list[tuple[int, str | None]] = []

    async def report(progress: int, stage: str | None) -> None:
        reports.append((progress, stage))

    started = time.monotonic()
    result = await processor.run(job, report)
    assert time.monotonic() - started < 1.0
    assert result["output_url"].startswith("https://")
    assert job.job_id in result["output_url"]
    assert result["output_url"].endswith("/de.mp4")
    assert result["duration_seconds"] == 0
    assert reports == []  # nothing to report when the job takes no time


async def test_run_same_seed_same_outcomes() -> None:
    first = await outcomes(SimulatedProcessor(INSTANT, 0.5, seed=7), 60)
    second = await outcomes(SimulatedProcessor(INSTANT, 0.5, seed=7), 60)
    assert first == second
    kinds = {kind for kind, _ in first}
    assert kinds == {"ok", "TransientError", "PermanentError"}


async def test_run_different_seed_different_outcomes() -> None:
    first = await outcomes(SimulatedProcessor(INSTANT, 0.5, seed=7), 60)
    other = await outcomes(SimulatedProcessor(INSTANT, 0.5, seed=8), 60)
    assert first != other


async def test_run_seeded_durations_reproducible() -> None:
    duration = SimDuration(0.0, 0.001)
    first = SimulatedProcessor(duration, 0.0, seed=3)
    second = SimulatedProcessor(duration, 0.0, seed=3)
    for _ in range(5):
        a = await first.run(make_job(), no_report)
        b = await second.run(make_job(), no_report)
        assert a["duration_seconds"] == b["duration_seconds"]


async def test_run_error_rate_one_always_fails_with_code() -> None:
    processor = SimulatedProcessor(INSTANT, error_rate=1.0, seed=11)
    transient_codes = {code for code, _, _ in TRANSIENT_FAILURES}
    permanent_codes = {code for code, _, _ in PERMANENT_FAILURES}
    kinds = set()
    for _ in range(60):
        with pytest.raises((TransientError, PermanentError)) as caught:
            await processor.run(make_job(), no_report)
        exc = caught.value
        kinds.add(type(exc))
        codes = transient_codes if isinstance(exc, TransientError) else permanent_codes
        assert exc.code in codes
        assert exc.message
    assert kinds == {TransientError, PermanentError}


async def test_run_reports_progress_through_stages_in_order() -> None:
    processor = SimulatedProcessor(SimDuration(0.01, 0.01), error_rate=0.0, seed=1)
    reports: list[tuple[int, str | None]] = []

    async def report(progress: int, stage: str | None) -> None:
        reports.append((progress, stage))

    result = await processor.run(make_job(), report)
    assert result["output_url"]
    progress = [p for p, _ in reports]
    assert progress == sorted(progress)
    assert all(0 <= p <= 99 for p in progress)
    stages = [stage for _, stage in reports]
    # Each stage reports at least once, and they never go backwards.
    assert list(dict.fromkeys(stages)) == list(STAGES)
    assert [STAGES.index(s) for s in stages] == sorted(STAGES.index(s) for s in stages)


async def test_run_failure_stops_at_failing_stage() -> None:
    processor = SimulatedProcessor(SimDuration(0.01, 0.01), error_rate=1.0, seed=5)
    reports: list[str | None] = []

    async def report(progress: int, stage: str | None) -> None:
        reports.append(stage)

    for _ in range(10):
        reports.clear()
        with pytest.raises((TransientError, PermanentError)) as caught:
            await processor.run(make_job(), report)
        failures = TRANSIENT_FAILURES + PERMANENT_FAILURES
        failed_stage = next(s for c, s, _ in failures if c == caught.value.code)
        # No stage at or after the failing one reported progress.
        assert all(STAGES.index(s) < STAGES.index(failed_stage) for s in reports if s)
