"""vts-client: submit, follow and manage vts jobs from the shell.

Exit status: 0 done (the job completed), 1 the job failed, 2 usage error or the
server rejected the request (4xx), 3 the job was cancelled, 4 timed out waiting,
5 the server is unreachable or unavailable (connection errors, 5xx, after retries),
6 the API key was refused (401: missing, unknown, expired, revoked) or lacks the
scope (403).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from translation_client import _cli_webhooks
from translation_client._auth import resolve_api_key
from translation_client._client import DEFAULT_URL, TranslationClient
from translation_client._errors import (
    AuthenticationError,
    JobCancelledError,
    JobError,
    JobFailedError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TranslationClientError,
    TransportError,
    WaitTimeoutError,
)
from translation_client._models import Job
from translation_client._output import PROG, Output, progress_display
from translation_client._version import __version__ as VERSION

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 3
EXIT_TIMEOUT = 4
EXIT_UNAVAILABLE = 5
EXIT_UNAUTHORIZED = 6
EXIT_HELP = """exit status:
  0  ok (the job completed)      3  the job was cancelled
  1  the job failed              4  timed out waiting
  2  usage error, or the server  5  server unreachable or unavailable
     rejected the request (4xx)     (after retries)
  6  the API key was refused (401) or lacks the scope (403)
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Submit, follow and manage video translation jobs on a vts server.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--url",
        default=os.environ.get("VTS_URL") or DEFAULT_URL,
        help=f"the vts server (default: $VTS_URL or {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="the API key (default: $VTS_API_KEY; prefer the variable: arguments "
        "show in process lists)",
    )
    parser.add_argument(
        "--json", action="store_true", help="machine-readable JSON on stdout"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {VERSION}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    submit = commands.add_parser("submit", help="create a translation job")
    submit.add_argument("--source", required=True, help="source language (BCP 47)")
    submit.add_argument("--target", required=True, help="target language (BCP 47)")
    submit.add_argument("--video-url", required=True, help="the video to translate")
    submit.add_argument(
        "--metadata",
        type=_json_object,
        default={},
        help="extra metadata, a JSON object",
    )
    submit.add_argument("--wait", action="store_true", help="follow it until final")
    submit.add_argument("--timeout", type=_seconds, help="give up waiting after S s")

    status = commands.add_parser("status", help="show a job")
    status.add_argument("job_id", metavar="JOB_ID")

    watch = commands.add_parser("watch", help="print every change until final")
    watch.add_argument("job_id", metavar="JOB_ID")
    watch.add_argument("--timeout", type=_seconds, help="give up after S seconds")

    cancel = commands.add_parser("cancel", help="cancel a pending or running job")
    cancel.add_argument("job_id", metavar="JOB_ID")

    listing = commands.add_parser("list", help="list jobs, newest first")
    listing.add_argument("--status", help="only jobs with this status")
    listing.add_argument("--limit", type=_positive_int, default=20, help="default 20")

    events = commands.add_parser(
        "events",
        help="print every job change as it is stored, one line each (until Ctrl-C)",
    )
    events.add_argument(
        "--job-id",
        action="append",
        metavar="JOB_ID",
        help="only this job's events (repeatable)",
    )
    events.add_argument(
        "--last-event-id",
        type=_event_id,
        metavar="ID",
        help="resume after this event (0: everything the server keeps); "
        "default: changes from now on",
    )

    dlq = commands.add_parser("dlq", help="the dead-letter queue")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_list = dlq_commands.add_parser("list", help="dead-lettered jobs")
    dlq_list.add_argument("--limit", type=_positive_int, default=100)
    replay = dlq_commands.add_parser("replay", help="start a failed job over")
    replay.add_argument("job_id", metavar="JOB_ID")
    _cli_webhooks.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    out = Output(sys.stdout, sys.stderr, as_json=args.json)
    try:
        # Resolved here, so a malformed key is a usage error, not a traceback.
        args.api_key = resolve_api_key(args.api_key) or ""
    except ValueError as exc:
        out.error(str(exc))
        return EXIT_USAGE
    try:
        return asyncio.run(_run(args, out))
    except WaitTimeoutError as exc:
        out.error(str(exc))
        return EXIT_TIMEOUT
    except (TransportError, ServerError, RateLimitedError) as exc:
        out.error(str(exc))
        return EXIT_UNAVAILABLE
    except (AuthenticationError, PermissionDeniedError) as exc:
        out.error(str(exc))
        return EXIT_UNAUTHORIZED
    except TranslationClientError as exc:  # APIError: the server said no (4xx)
        out.error(str(exc))
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


async def _run(args: argparse.Namespace, out: Output) -> int:
    async with TranslationClient(args.url, api_key=args.api_key) as client:
        command = args.command
        if command == "submit":
            metadata = {**args.metadata, "video_url": args.video_url}
            created = await client.start_translation(args.source, args.target, metadata)
            if not args.wait:
                out.data(created, f"{created['job_id']} {created['status']}")
                return EXIT_OK
            out.note(f"job {created['job_id']} submitted")
            with progress_display(out.err) as show:
                job = await _final(client, created["job_id"], args.timeout, show)
            out.job(job)
            return _outcome(job, out)
        if command == "webhooks":
            await _cli_webhooks.run(client, args, out)
            return EXIT_OK
        if command == "watch":
            job = await _final(client, args.job_id, args.timeout, out.update)
            return _outcome(job, out)
        if command == "events":
            async for event in client.events(args.job_id, args.last_event_id):
                out.event(event)
            return EXIT_OK  # pragma: no cover - the stream has no end
        if command == "status":
            out.job(await client.get_job(args.job_id))
        elif command == "cancel":
            out.job(await client.cancel(args.job_id))
        elif command == "list":
            jobs = []
            async for item in client.list_jobs(args.status, min(args.limit, 100)):
                jobs.append(item)
                if len(jobs) >= args.limit:
                    break
            out.jobs(jobs)
        elif args.dlq_command == "list":
            out.jobs(await client.list_dead_letters(args.limit))
        else:
            out.job(await client.replay(args.job_id))
    return EXIT_OK


async def _final(
    client: TranslationClient,
    job_id: str,
    timeout: float | None,
    show: Callable[[Job], None],
) -> Job:
    """The job once final, whatever the outcome (shown as it changes)."""
    try:
        return await client.wait_for_completion(job_id, timeout, on_update=show)
    except JobError as exc:
        return exc.job


def _outcome(job: Job, out: Output) -> int:
    """The exit status for a final job; failures and cancels are named on stderr."""
    if job["status"] == "failed":
        out.error(str(JobFailedError(job)))
        return EXIT_FAILED
    if job["status"] == "cancelled":
        out.error(str(JobCancelledError(job)))
        return EXIT_CANCELLED
    return EXIT_OK


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _event_id(text: str) -> str:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"{text!r} is not an event id (digits)")
    return text


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


if __name__ == "__main__":
    sys.exit(main())
