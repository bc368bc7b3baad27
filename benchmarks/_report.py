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


def machine(vts: str | None = None) -> dict[str, str]:
    """Facts of this machine and run; `vts` describes the code measured (default:
    BENCH_VTS_SRC's snapshot or this work tree)."""
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
        "vts": vts or revision(os.environ.get("BENCH_VTS_SRC")),
    }


def revision(source: str | None) -> str:
    """The commit measured: a snapshot's COMMIT file, or this work tree's HEAD and
    whether vts/ differed from it."""
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


def print_header(title: str, vts: str | None = None) -> None:
    print(f"# {title}")
    print(f"command: {command_line()}")
    print("machine: " + "; ".join(f"{k} {v}" for k, v in machine(vts).items()))
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


def print_columns(
    results: Sequence[Mapping[str, Any]], columns: Sequence[tuple[str, str]]
) -> None:
    """One row per result: `columns` are (header, key); a missing key shows "-"."""
    print_table(
        [header for header, _ in columns],
        [[r.get(key, "-") for _, key in columns] for r in results],
    )


# A summary row: what was compared, its value, the goal and whether it was met.
GOAL_HEADERS = ("run", "vts", "mode", "compared", "value", "goal", "result")


def goal_row(
    row: Sequence[object],
    compared: str,
    value: str,
    goal: str | float = "",
    met: bool | None = None,
) -> list[object]:
    """`row` (run, vts, mode) + what was compared, its value, the goal (a float is a
    share: ">= 50%") and the verdict; no goal: shown for context."""
    shown = f">= {goal:.0%}" if isinstance(goal, float) else goal
    return [*row, compared, value, shown, verdict(met)]


def verdict(met: bool | None) -> str:
    """ "met" / "not met"; "" for a comparison that has no goal (shown for context)."""
    return "" if met is None else ("met" if met else "not met")


def print_ab(
    results: Sequence[Mapping[str, Any]],
    names: Sequence[str],
    metrics: Sequence[tuple[str, str]],
    group: str = "mode",
) -> None:
    """B ÷ A: every vts variant after the first against the first (`names`, the
    targets as rows show them), run by run and per `group` (mode or test), for each
    metric (header, key). The variants of a run ran back to back."""
    if len(names) < 2:
        return
    index = {(r.get(group, ""), r["run"], r["target"]): r for r in results}
    rows = []
    for (kind, run, target), a in index.items():
        if target != names[0]:
            continue
        for name in names[1:]:
            b = index.get((kind, run, name))
            if b is None:
                continue
            cells = [_quotient(b.get(key), a.get(key)) for _, key in metrics]
            rows.append(
                [run, *([kind] if group else []), f"{name} ÷ {names[0]}", *cells]
            )
    print(f"\nA/B: each variant ÷ {names[0]}, same run")
    heads = ["run", *([group] if group else []), "variants"]
    print_table([*heads, *(f"{header} B ÷ A" for header, _ in metrics)], rows)


def _quotient(b: object, a: object) -> str:
    if not isinstance(a, int | float) or not isinstance(b, int | float) or not a:
        return "n/a"
    return f"{b / a:.3f}"
