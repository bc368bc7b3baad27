"""Reading wrk's --latency report (submit_throughput.py and the scale-out runs)."""

from __future__ import annotations

import re
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms), totals and errors from wrk --latency."""

    def number(pattern: str, default: str | None = None) -> str:
        match = re.search(pattern, output)
        if match is None:
            if default is None:
                raise ValueError(f"wrk output lacks {pattern!r}:\n{output}")
            return default
        return match[1]

    result: dict[str, Any] = {
        "rps": float(number(r"Requests/sec:\s+([\d.]+)")),
        "requests": int(number(r"(\d+) requests in")),
        "non_2xx": int(number(r"Non-2xx or 3xx responses: (\d+)", "0")),
        "ok": int(number(r"2xx responses: (\d+)")),
        "socket_errors": number(r"Socket errors: (.*)", "none"),
    }
    for share in ("50", "90", "99"):
        result[f"p{share}"] = _ms(number(rf"\n\s+{share}%\s+(\S+)"))
    return result
