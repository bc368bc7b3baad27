"""Reporting: machine facts, the command line, Markdown tables, percentiles."""

from __future__ import annotations

import contextlib
import datetime
import math
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return {
        "nproc": str(os.cpu_count()),
        "cpu": cpu,
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load average at start": load,
        "vts": _revision(),
    }


def _revision() -> str:
    """The commit measured, and whether the work tree differed from it."""
    source = os.environ.get("BENCH_VTS_SRC")
    if source:  # a snapshot (see _harness.VTS_SRC): its COMMIT file names it
        with contextlib.suppress(OSError):
            commit = (Path(source) / "COMMIT").read_text().strip()
            return f"commit {commit} (snapshot in {source})"
        return f"snapshot in {source} (commit unknown)"

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False
        )
        return done.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "vts")
    return f"commit {commit}" + (" + uncommitted vts/ changes" if dirty else "")


def command_line() -> str:
    return shlex.join(["python", os.path.relpath(sys.argv[0], REPO), *sys.argv[1:]])


def print_header(title: str) -> None:
    print(f"# {title}")
    print(f"command: {command_line()}")
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine().items()))
    print(flush=True)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A Markdown table, ready to paste into docs/benchmarks.md."""
    cells = [[str(h) for h in headers], *[[_cell(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    print("\n".join(lines), flush=True)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(value: float, ceiling: float) -> str:
    return f"{value / ceiling:.0%}" if ceiling else "n/a"


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), math.ceil(share * len(sorted_values))))
    return sorted_values[rank - 1]


def runs_side_by_side(
    results: Sequence[Mapping[str, Any]], repeat: int
) -> Iterator[tuple[int, Mapping[str, Any], Mapping[str, Any]]]:
    """(run, vts result, ceiling result) for each run: the pairs a summary compares."""
    for run in range(1, repeat + 1):
        pair = {r["target"]: r for r in results if r["run"] == run}
        yield run, pair["vts"], pair["trivial"]
