"""What vts-client prints: job descriptions, JSON, progress bars."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from translation_client._events import JobEvent, StreamEvent
from translation_client._models import Job

PROG = "vts-client"


class Output:
    """Where results go: stdout (JSON with --json), messages and errors on stderr."""

    def __init__(self, out: TextIO, err: TextIO, *, as_json: bool) -> None:
        self.out = out
        self.err = err
        self.as_json = as_json

    def data(self, value: Any, text: str) -> None:
        print(json.dumps(value) if self.as_json else text, file=self.out, flush=True)

    def job(self, job: Job) -> None:
        self.data(job, describe_job(job))

    def jobs(self, jobs: list[Job]) -> None:
        self.data(jobs, "\n".join(job_line(job) for job in jobs) or "(none)")

    def update(self, job: Job) -> None:
        self.data(job, job_line(job))

    def event(self, event: StreamEvent) -> None:
        """One line per event: the id and the job's line, or the reset; with
        --json, `{"id", "event", "job"}` or `{"id", "event", "reason", "detail"}`."""
        if isinstance(event, JobEvent):
            value = {"id": event.id, "event": "job", "job": event.job}
            text = f"{event.id}  {job_line(event.job)}"
        else:
            value = {
                "id": event.id,
                "event": "reset",
                "reason": event.reason,
                "detail": event.detail,
            }
            text = f"{event.id}  reset ({event.reason}): {event.detail}"
        self.data(value, text)

    def note(self, text: str) -> None:
        print(text, file=self.err, flush=True)

    def error(self, text: str) -> None:
        print(f"{PROG}: error: {text}", file=self.err, flush=True)


def job_line(job: Job) -> str:
    stage = f" {job['stage']}" if job.get("stage") else ""
    return (
        f"{job['job_id']}  {job['status']:<10} {job['progress']:>3}%{stage}  "
        f"{job['source_language']}->{job['target_language']}  {job['created_at']}"
    )


def progress_line(job: Job) -> str:
    stage = f" {job['stage']}" if job["stage"] and job["status"] == "processing" else ""
    return f"job {job['job_id']}: {job['status']} {job['progress']}%{stage}"


def describe_job(job: Job) -> str:
    fields = [
        ("job_id", job["job_id"]),
        ("status", job["status"]),
        (
            "progress",
            f"{job['progress']}%" + (f" ({job['stage']})" if job["stage"] else ""),
        ),
        ("languages", f"{job['source_language']} -> {job['target_language']}"),
        ("video_url", str(job["metadata"].get("video_url", ""))),
        ("attempts", f"{job['attempts']}/{job['max_attempts']}"),
        ("created_at", job["created_at"]),
        ("updated_at", job["updated_at"]),
    ]
    if job.get("completed_at"):
        fields.append(("completed_at", str(job["completed_at"])))
    if job.get("error"):
        error = job["error"]
        assert error is not None
        fields.append(("error", f"{error['code']}: {error['message']}"))
    if job.get("result") is not None:
        fields.append(("result", json.dumps(job["result"])))
    return "\n".join(f"{name:<13}{value}" for name, value in fields)


@contextlib.contextmanager
def progress_display(stream: TextIO) -> Iterator[Callable[[Job], None]]:
    """A callable showing each job update on `stream`: a live bar on a terminal
    (rich's when installed, else a carriage-return bar), plain lines otherwise."""
    if not stream.isatty():
        yield lambda job: print(progress_line(job), file=stream, flush=True)
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
    except ImportError:
        yield lambda job: _carriage_return_bar(stream, job)
        print(file=stream, flush=True)
        return
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn())
    with Progress(*columns, console=Console(file=stream), transient=False) as bar:
        task = bar.add_task("pending", total=100)

        def show(job: Job) -> None:
            bar.update(
                task, completed=job["progress"], description=f"{_label(job):<12}"
            )

        yield show


def _carriage_return_bar(stream: TextIO, job: Job) -> None:
    width = 30
    filled = width * job["progress"] // 100
    bar = "#" * filled + "-" * (width - filled)
    stream.write(f"\r[{bar}] {job['progress']:>3}% {_label(job):<13}")
    stream.flush()


def _label(job: Job) -> str:
    """The stage while it runs, else the status."""
    stage = job["stage"] if job["status"] == "processing" else None
    return stage or job["status"]
