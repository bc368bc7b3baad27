"""The simulated translation pipeline: realistic stages, durations and failures."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from typing import Any

from vts.config import Settings
from vts.domain import STAGES, Job
from vts.errors import PermanentError, TransientError
from vts.plugin_settings import processor_settings, reads_settings
from vts.ports import Reporter
from vts.processors.simulated_settings import SimDuration, SimulatedSettings

# Share of each stage in the whole run, in STAGES order.
STAGE_WEIGHTS = (0.15, 0.30, 0.20, 0.25, 0.10)
# Progress reports per stage when the job takes time (none when it takes none).
STEPS_PER_STAGE = 2

TRANSIENT_FAILURES = (
    ("download-timeout", "downloading", "the video source timed out"),
    ("asr-overloaded", "transcribing", "the speech recognizer is overloaded"),
    ("tts-rate-limited", "synthesizing", "the voice synthesizer rate-limited us"),
)
PERMANENT_FAILURES = (
    ("unsupported-codec", "downloading", "the video uses a codec we cannot decode"),
    ("no-speech", "transcribing", "no speech was found in the audio track"),
)


class SimulatedProcessor:
    """Walks downloading -> transcribing -> translating -> synthesizing -> muxing.

    Each attempt takes a uniform random time within `duration`; with probability
    `error_rate` it fails part-way, transiently two times in three. A `seed` makes
    the sequence of durations and failures reproducible.
    """

    def __init__(
        self, duration: SimDuration, error_rate: float, seed: int | None
    ) -> None:
        self.duration = duration
        self.error_rate = error_rate
        self._random = random.Random(seed)

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def run(self, job: Job, report: Reporter) -> Mapping[str, Any]:
        rng = self._random
        total = rng.uniform(self.duration.low, self.duration.high)
        failure: (
            tuple[type[TransientError | PermanentError], tuple[str, str, str]] | None
        ) = None
        if self.error_rate > 0 and rng.random() < self.error_rate:
            if rng.random() < 2 / 3:
                failure = (TransientError, rng.choice(TRANSIENT_FAILURES))
            else:
                failure = (PermanentError, rng.choice(PERMANENT_FAILURES))
        done = 0.0
        for stage, weight in zip(STAGES, STAGE_WEIGHTS, strict=True):
            if failure is not None and failure[1][1] == stage:
                error_type, (code, _, message) = failure
                await asyncio.sleep(total * weight / 2)
                raise error_type(f"{stage}: {message}", code=code)
            if total > 0:
                for step in range(1, STEPS_PER_STAGE + 1):
                    await asyncio.sleep(total * weight / STEPS_PER_STAGE)
                    share = done + weight * step / STEPS_PER_STAGE
                    await report(min(99, int(share * 100)), stage)
            done += weight
        return {
            "output_url": f"https://media.vts.invalid/{job.job_id}/{job.target_language}.mp4",
            "subtitles_url": f"https://media.vts.invalid/{job.job_id}/{job.target_language}.vtt",
            "duration_seconds": round(total, 3),
        }


@reads_settings(SimulatedSettings)
def create_processor(name: str, settings: Settings) -> SimulatedProcessor:
    """Entry point `simulated`, configured by its own VTS_SIM_* settings."""
    own = processor_settings(settings, SimulatedSettings)
    return SimulatedProcessor(own.sim_duration, own.sim_error_rate, own.sim_seed)
