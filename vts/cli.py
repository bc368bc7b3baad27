"""The `vts` command line: `vts serve`, `vts migrate`, `vts keys`. The only reader of
os.environ."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import resource
import signal
import sys
from collections.abc import Callable, Sequence

import attrs
from aiohttp import web

import vts
from vts import cli_keys, registry
from vts.api.connections import PROBE_CONNECTIONS, VtsRunner
from vts.app import create_app
from vts.config import Settings, env_names, load_settings
from vts.errors import ConfigError, UnavailableError

log = logging.getLogger("vts")


def event_loop(choice: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The loop factory VTS_EVENT_LOOP names (None: asyncio's own loop)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise ConfigError(
                "VTS_EVENT_LOOP=uvloop but uvloop is not installed: "
                "pip install uvloop, or set VTS_EVENT_LOOP to auto or asyncio"
            ) from None
        return None
    return uvloop.new_event_loop


# File descriptors kept for everything but client connections: the listening
# socket, the store and broker pools, log files, refused connections lingering.
RESERVED_FDS = 128

# option -> Settings field; each option overrides its VTS_* variable.
SERVE_OPTIONS: dict[str, tuple[str, str]] = {
    "--host": ("host", "address to listen on [VTS_HOST, 127.0.0.1]"),
    "--port": ("port", "TCP port, 0 for any free one [VTS_PORT, 8000]"),
    "--database-url": (
        "database_url",
        "job store URL [VTS_DATABASE_URL, sqlite:///./vts.db]",
    ),
    "--redis-url": ("redis_url", "cache/DLQ/pub-sub URL [VTS_REDIS_URL, fakeredis://]"),
    "--processor": ("processor", "processor plugin [VTS_PROCESSOR, simulated]"),
    "--concurrency": ("concurrency", "jobs run at once [VTS_CONCURRENCY, 64]"),
    "--max-attempts": (
        "max_attempts",
        "attempts before dead-lettering [VTS_MAX_ATTEMPTS, 3]",
    ),
    "--max-lease-losses": (
        "max_lease_losses",
        "leases lost to crashes before dead-lettering [VTS_MAX_LEASE_LOSSES, 5]",
    ),
    "--lease-seconds": ("lease_seconds", "job lease length [VTS_LEASE_SECONDS, 30]"),
    "--event-loop": ("event_loop", "auto, uvloop or asyncio [VTS_EVENT_LOOP, auto]"),
    "--progress-interval": (
        "progress_interval",
        "seconds between a job's progress writes [VTS_PROGRESS_INTERVAL, 0.1]",
    ),
    "--shutdown-grace": (
        "shutdown_grace",
        "drain time on SIGTERM [VTS_SHUTDOWN_GRACE, 20]",
    ),
    "--retention": (
        "retention",
        "delete final jobs this long after they finish, e.g. 30d; 0 never "
        "[VTS_RETENTION, 0]",
    ),
    "--event-retention": (
        "event_retention",
        "keep logged job events this long, e.g. 24h; 0 forever "
        "[VTS_EVENT_RETENTION, 24h]",
    ),
    "--request-timeout": (
        "request_timeout",
        "deadline for request headers and body [VTS_REQUEST_TIMEOUT, 10s]",
    ),
    "--keepalive-timeout": (
        "keepalive_timeout",
        "idle keep-alive connection lifetime [VTS_KEEPALIVE_TIMEOUT, 75s]",
    ),
    "--max-connections": (
        "max_connections",
        "open connections before new ones get 503 [VTS_MAX_CONNECTIONS, 10000]",
    ),
    "--allow-private-urls": (
        "allow_private_urls",
        "accept video URLs on private addresses [VTS_ALLOW_PRIVATE_URLS, false]",
    ),
    "--webhook-timeout": (
        "webhook_timeout",
        "a webhook receiver's 2xx must come within this [VTS_WEBHOOK_TIMEOUT, 10s]",
    ),
    "--webhook-retry-schedule": (
        "webhook_retry_schedule",
        "waits before webhook retries "
        "[VTS_WEBHOOK_RETRY_SCHEDULE, 5s,5m,30m,2h,5h,10h,10h]",
    ),
    "--webhook-allow-private": (
        "webhook_allow_private",
        "allow http and private addresses in webhook URLs "
        "[VTS_WEBHOOK_ALLOW_PRIVATE, false]",
    ),
    "--sim-duration": (
        "sim_duration",
        "simulated seconds, N or MIN-MAX [VTS_SIM_DURATION, 1-5]",
    ),
    "--sim-error-rate": (
        "sim_error_rate",
        "simulated failure share 0..1 [VTS_SIM_ERROR_RATE, 0.1]",
    ),
    "--sim-seed": ("sim_seed", "seed for reproducible simulation [VTS_SIM_SEED]"),
    "--auth": (
        "auth",
        "auto, none or keys; auto is none on loopback only [VTS_AUTH, auto]",
    ),
    "--tenant-max-active-jobs": (
        "tenant_max_active_jobs",
        "a new tenant's active job quota [VTS_TENANT_MAX_ACTIVE_JOBS, 10000]",
    ),
    "--tenant-requests-per-second": (
        "tenant_requests_per_second",
        "a new tenant's request rate, 0 unlimited [VTS_TENANT_REQUESTS_PER_SECOND, 0]",
    ),
    "--log-level": ("log_level", "DEBUG, INFO, WARNING, ERROR [VTS_LOG_LEVEL, INFO]"),
}


SETTING_FIELDS = frozenset(env_names())
"""Parsed options that are settings (secrets are never options: argv is visible)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vts", description="Video translation job service."
    )
    parser.add_argument("--version", action="version", version=f"vts {vts.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the API and the worker pool")
    for option, (field, help_text) in SERVE_OPTIONS.items():
        serve.add_argument(option, dest=field, metavar=field.upper(), help=help_text)
    serve.add_argument(
        "--no-workers", action="store_true", help="serve the API only; run no jobs here"
    )
    migrate = commands.add_parser(
        "migrate", help="apply pending schema migrations and exit"
    )
    migrate.add_argument("--database-url", dest="database_url", metavar="URL")
    cli_keys.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        field: value
        for field, value in vars(args).items()
        if field in SETTING_FIELDS and value is not None
    }
    try:
        settings = load_settings(os.environ, overrides)
    except ConfigError as exc:
        print(f"vts: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level_number,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "migrate":
            return asyncio.run(_migrate(settings))
        if args.command == "keys":
            return asyncio.run(cli_keys.run(args, settings))
        with asyncio.Runner(loop_factory=event_loop(settings.event_loop)) as runner:
            return runner.run(_serve(settings, workers=not args.no_workers))
    except ConfigError as exc:
        print(f"vts: {exc}", file=sys.stderr)
        return 2
    except UnavailableError as exc:
        print(f"vts: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _migrate(settings: Settings) -> int:
    store = registry.create_store(settings)
    await store.open()
    try:
        applied = await store.migrate()
    finally:
        await store.close()
    print("schema is up to date" if not applied else f"applied: {', '.join(applied)}")
    return 0


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit; the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit %d: %s", soft, exc)
        else:
            log.info("raised the open-file limit from %d to %d", soft, hard)
            soft = hard
    else:
        log.info("open-file limit %d (the hard limit)", soft)
    return sys.maxsize if soft == resource.RLIM_INFINITY else soft


def fit_connections(settings: Settings, open_files: int) -> Settings:
    """Lower max_connections so that connections, with the probes' reserve above
    them, cannot use up `open_files`."""
    fitting = max(16, open_files - RESERVED_FDS - PROBE_CONNECTIONS)
    if settings.max_connections <= fitting:
        return settings
    log.warning(
        "VTS_MAX_CONNECTIONS lowered from %d to %d to fit the open-file limit %d",
        settings.max_connections,
        fitting,
        open_files,
    )
    return attrs.evolve(settings, max_connections=fitting)


async def _serve(settings: Settings, *, workers: bool) -> int:
    settings = fit_connections(settings, raise_open_file_limit())
    app = create_app(settings, workers=workers)
    runner = VtsRunner(
        app,
        handle_signals=False,
        shutdown_timeout=settings.shutdown_grace + 5,
        access_log=None,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, backlog=1024)
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # Start-up objects live as long as the process: keep them out of every
        # later garbage collection (full collections otherwise stall the loop).
        gc.freeze()
        log.info("event loop: %s", type(loop).__module__.split(".")[0])
        for address in runner.addresses:
            host, port = address[0], address[1]
            log.info("vts %s listening on http://%s:%d", vts.__version__, host, port)
        await stop.wait()
        log.info(
            "shutting down: draining jobs for up to %.0fs", settings.shutdown_grace
        )
    finally:
        await runner.cleanup()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
