"""The simulated processor's settings (VTS_SIM_*), declared by the plugin itself."""

from __future__ import annotations

import attrs

from vts.config_fields import number, setting
from vts.config_values import parse_optional_int


@attrs.frozen
class SimDuration:
    """How long a simulated job takes: a uniform range in seconds."""

    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.low:g}-{self.high:g}"


def parse_sim_duration(raw: object) -> SimDuration:
    """`"2"` -> 2..2 s, `"1-5"` -> 1..5 s; both ends >= 0 and low <= high."""
    if isinstance(raw, SimDuration):
        low, high = raw.low, raw.high
    else:
        parts = str(raw).strip().split("-", 1)
        low, high = float(parts[0]), float(parts[-1])
    if not (0 <= low <= high) or high != high or high == float("inf"):
        raise ValueError(raw)
    return SimDuration(low, high)


@attrs.frozen
class SimulatedSettings:
    """How the simulated pipeline behaves. Read, and checked, only when
    VTS_PROCESSOR is `simulated`; each field is a `vts serve` option too."""

    sim_duration: SimDuration = setting(
        "VTS_SIM_DURATION",
        "1-5",
        "simulated seconds, N or MIN-MAX",
        "seconds as one number or min-max, e.g. 0, 2 or 1-5",
        parse_sim_duration,
    )
    sim_error_rate: float = number(
        "VTS_SIM_ERROR_RATE", "0.1", "simulated failure share 0..1", 0, 1
    )
    sim_seed: int | None = setting(
        "VTS_SIM_SEED",
        None,
        "seed for reproducible simulation",
        "an integer",
        parse_optional_int,
    )
