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
from vts.config import Settings, env_names, load_settings, setting_specs
from vts.config_fields import option_help, option_of
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

SETTING_FIELDS = frozenset(env_names())
"""Parsed options that are settings (secrets are never options: argv is visible)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vts", description="Video translation job service."
    )
    parser.add_argument("--version", action="version", version=f"vts {vts.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the API and the worker pool")
    # One option per setting, each overriding its VTS_* variable.
    for field, spec in setting_specs().items():
        option = option_of(field, spec)
        if option is not None:
            serve.add_argument(
                option, dest=field, metavar=field.upper(), help=option_help(spec)
            )
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
