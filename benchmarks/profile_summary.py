"""Summarise a py-spy raw (collapsed-stack) profile: threads, self and inclusive costs."""

from __future__ import annotations

import argparse
import collections
import re
from collections.abc import Iterable

# "func (path/to/file.py:123)" -> ("func", "path/to/file.py")
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::\d+)?\)$")
_SITE = re.compile(r".*/(site-packages|lib/python3\.\d+)/")


def _short(path: str) -> str:
    """Drop the interpreter and virtualenv prefixes: `aiohttp/web_protocol.py`."""
    path = _SITE.sub("", path)
    return path.split("/work/main/", 1)[-1]


def _frame(raw: str) -> str:
    match = _FRAME.match(raw.strip())
    if match is None:
        return raw.strip()
    return f"{match['func']} ({_short(match['file'])})"


def read_stacks(lines: Iterable[str]) -> list[tuple[str, list[str], int]]:
    """(thread, frames from the root, samples) per line of py-spy's raw output."""
    stacks = []
    for line in lines:
        line = line.rstrip("\n")
        if not line:
            continue
        path, _, count = line.rpartition(" ")
        parts = path.split(";")
        thread = "?"
        frames = []
        for part in parts:
            if part.startswith("thread (") or part.startswith("process "):
                thread = part if part.startswith("thread") else thread
                continue
            frames.append(_frame(part))
        stacks.append((thread, frames, int(count)))
    return stacks


# Self time by where the code lives; first match wins.
_FAMILIES = (
    ("fakeredis + redis-py", ("fakeredis/", "redis/")),
    ("aiosqlite + sqlite3 (its thread runs the SQL)", ("aiosqlite/", "sqlite3/")),
    ("aiohttp", ("aiohttp/", "multidict/", "yarl/")),
    ("prometheus_client", ("prometheus_client/",)),
    ("attrs / cattrs", ("attr/", "cattrs/", "<attrs generated")),
    ("vts", ("vts/",)),
    ("asyncio + selectors + socket", ("asyncio/", "selectors.py", "socket.py")),
)


def _family(frame: str) -> str:
    for name, markers in _FAMILIES:
        if any(marker in frame for marker in markers):
            return name
    return "other (stdlib: uuid, json, datetime, ...)"


def _task(frames: list[str]) -> str:
    """The coroutine or callback a loop turn ran: the frame right under Handle._run."""
    for index, frame in enumerate(frames[:-1]):
        if frame.startswith("Handle._run "):
            return frames[index + 1]
    return frames[-1] if frames else "?"


def summarise(path: str, top: int) -> str:
    with open(path) as profile:
        stacks = read_stacks(profile)
    total = sum(count for _, _, count in stacks) or 1
    threads: collections.Counter[str] = collections.Counter()
    families: collections.Counter[str] = collections.Counter()
    loop_families: collections.Counter[str] = collections.Counter()
    tasks: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    for thread, frames, count in stacks:
        if not frames:
            continue
        threads[thread] += count
        families[_family(frames[-1])] += count
        if "MainThread" in thread:
            loop_families[_family(frames[-1])] += count
            tasks[_task(frames)] += count
        own[frames[-1]] += count
        for frame in set(frames):
            if "vts/" in frame:
                inclusive[frame] += count

    def lines(counter: collections.Counter[str], limit: int | None = None) -> list[str]:
        return [f"  {n / total:6.1%}  {name}" for name, n in counter.most_common(limit)]

    out = [f"{path}: {total} samples (on-CPU only; idle waits excluded)", ""]
    out += ["threads:", *lines(threads)]
    out += ["", "self time by package:", *lines(families)]
    loop_total = sum(loop_families.values()) or 1
    out += ["", "the event loop thread alone (MainThread = 100%):"]
    out += [
        f"  {n / loop_total:6.1%}  {name}" for name, n in loop_families.most_common()
    ]
    out += ["", f"event loop turns by what they ran (top {top}):", *lines(tasks, top)]
    out += ["", f"top {top} functions by self time:", *lines(own, top)]
    out += ["", f"top {top} vts functions by inclusive time:", *lines(inclusive, top)]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("profiles", nargs="+", help="files from py-spy --format raw")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for path in args.profiles:
        print(summarise(path, args.top))
        print()


if __name__ == "__main__":
    main()
