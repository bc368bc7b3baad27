"""Where a completion's latency goes: segments from a _traced_vts.py trace file."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from _report import percentile, print_table

# (label, start mark, end mark): marks are server times, "recv" is the client's.
SEGMENTS = (
    ("1 wait for the group commit", "enter", "batch_start"),
    ("2 the group commit (transaction)", "batch_start", "batch_end"),
    ("3 worker resumes, announces", "batch_end", "resumed"),
    ("4 until the frame is written", "resumed", "send"),
    ("5 loopback + client read", "send", "recv"),
    ("total (µs clock, no ms cut)", "enter", "recv"),
)
SHARES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("max", 1.0))


def _row(label: str, values_ms: Sequence[float]) -> list[object]:
    ordered = sorted(values_ms)
    return [label, len(ordered), *(percentile(ordered, s) for _, s in SHARES)]


def read_trace(path: str) -> dict[str, Any]:
    with open(path, "rb") as trace_file:
        trace: dict[str, Any] = orjson.loads(trace_file.read())
    return trace


def print_breakdown(
    trace: Mapping[str, Any], received: Mapping[str, tuple[float, float]]
) -> None:
    """Per-segment percentiles (ms) for the jobs the client saw complete, then the
    whole run's event-loop lag, broker cache flushes and store group commits."""
    rows = []
    for label, start, end in SEGMENTS:
        values = []
        for job_id, marks in trace["jobs"].items():
            if job_id not in received:
                continue
            marks = {**marks, "recv": received[job_id][0]}
            if start in marks and end in marks:
                values.append((marks[end] - marks[start]) * 1000)
        rows.append(_row(label, values))
    print_run_stats(trace, rows)


def print_run_stats(trace: Mapping[str, Any], rows: list[list[object]]) -> None:
    lags = [lag * 1000 for lag in trace["lags"]]
    rows.append(_row("event-loop lag (1 ms timer, whole run)", lags))
    flushes = trace["flushes"]
    durations = [d * 1000 for _, d in flushes]
    rows.append(_row("broker cache_set_many call (whole run)", durations))
    commits = [d * 1000 for _, d, _ in trace["batches"]]
    rows.append(_row("store group commit (whole run)", commits))
    print_table(["segment (ms)", "n", *(name for name, _ in SHARES)], rows)
    if flushes:
        sizes = sorted(size for size, _ in flushes)
        per_entry = sum(d for _, d in flushes) / max(sum(sizes), 1) * 1e6
        print(
            f"cache flushes: {len(sizes)}, entries per flush p50 "
            f"{percentile(sizes, 0.5):g} max {sizes[-1]}, {per_entry:.0f} µs per entry"
        )
    batches = sorted(size for size, _, _ in trace["batches"])
    hops = sorted(count for _, _, count in trace["batches"])
    if batches:
        print(
            f"group commits: {len(batches)}, ops per commit p50 "
            f"{percentile(batches, 0.5):g} max {batches[-1]}; trips to the store's thread "
            f"per commit p50 {percentile(hops, 0.5):g} max {hops[-1]}"
        )
