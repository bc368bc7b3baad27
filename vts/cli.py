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
from collections.abc import Callable, Mapping, Sequence

import attrs
from aiohttp import web

import vts
from vts import cli_keys, registry
from vts.api.connections import PROBE_CONNECTIONS, VtsRunner
from vts.app import create_app
from vts.config import Settings, env_names, load_settings, setting_specs
from vts.config_fields import Spec, option_help, option_of, specs
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


def _add_setting_options(
    group: argparse._ActionsContainer, declared: Mapping[str, Spec]
) -> None:
    """One option per setting, each overriding its VTS_* variable."""
    for field, spec in declared.items():
        option = option_of(field, spec)
        if option is not None:
            group.add_argument(
                option, dest=field, metavar=field.upper(), help=option_help(spec)
            )


def build_parser(
    processor_settings_class: type | None = None, *, add_help: bool = True
) -> argparse.ArgumentParser:
    """The `vts` parser; `vts serve` also takes the options of the chosen processor's
    own settings (`processor_settings_class`)."""
    parser = argparse.ArgumentParser(
        prog="vts", description="Video translation job service.", add_help=add_help
    )
    parser.add_argument("--version", action="version", version=f"vts {vts.__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser(
        "serve", help="run the API and the worker pool", add_help=add_help
    )
    _add_setting_options(serve, setting_specs())
    if processor_settings_class is not None:
        title = f"options of the processor ({processor_settings_class.__name__})"
        _add_setting_options(
            serve.add_argument_group(title), specs(processor_settings_class)
        )
    serve.add_argument(
        "--no-workers", action="store_true", help="serve the API only; run no jobs here"
    )
    migrate = commands.add_parser(
        "migrate", help="apply pending schema migrations and exit", add_help=add_help
    )
    migrate.add_argument("--database-url", dest="database_url", metavar="URL")
    cli_keys.add_parser(commands)
    return parser


def chosen_processor_settings(
    args: argparse.Namespace, env: Mapping[str, str]
) -> type | None:
    """The settings class the processor `vts serve` would run declares, for its
    options; None also when the name is bad (`main` then reports it in one line)."""
    if args.command != "serve":
        return None
    spec = setting_specs()["processor"]
    raw = args.processor or env.get(spec.env) or spec.default
    try:
        return registry.settings_class(registry.PROCESSORS, spec.convert(raw))
    except ConfigError:
        return None


# Variables of vts's other programs, which may share a shell or a pod with it:
# vts-client's (VTS_URL, VTS_API_KEY) and the operator's (VTS_OPERATOR_*).
OTHER_PROGRAMS_VARIABLES = ("VTS_URL", "VTS_API_KEY", "VTS_OPERATOR_")


def warn_unread_variables(env: Mapping[str, str], settings: Settings) -> None:
    """Name each VTS_* variable nothing reads (a typo, or another processor's), never
    its value: it is ignored, not an error, so one environment fits every plugin."""
    read = {spec.env for spec in setting_specs().values()}
    if settings.processor_settings is not None:
        read |= {s.env for s in specs(type(settings.processor_settings)).values()}
    for variable in sorted(env):
        if (
            variable.startswith("VTS_")
            and variable not in read
            and not variable.startswith(OTHER_PROGRAMS_VARIABLES)
        ):
            log.warning(
                "%s is not a setting of vts or of processor %r: ignored",
                variable,
                settings.processor,
            )


def main(argv: Sequence[str] | None = None) -> int:
    # Two passes: the first learns the command and the processor, whose own
    # settings the second parser takes as options too.
    first, _ = build_parser(add_help=False).parse_known_args(argv)
    own_class = chosen_processor_settings(first, os.environ)
    args = build_parser(own_class).parse_args(argv)
    fields = SETTING_FIELDS | (set(specs(own_class)) if own_class else set())
    overrides = {
        field: value
        for field, value in vars(args).items()
        if field in fields and value is not None
    }
    try:
        settings = load_settings(os.environ, overrides)
        if args.command == "serve":  # the processor's own settings, checked now
            own_class = registry.settings_class(registry.PROCESSORS, settings.processor)
            settings = load_settings(
                os.environ, overrides, processor_settings_class=own_class
            )
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
        warn_unread_variables(os.environ, settings)
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
