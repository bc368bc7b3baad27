"""Settings: one typed object, checked on construction, from VTS_* and options."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping

import attrs

from vts.apikeys import MAX_ACTIVE_JOBS_QUOTA, MAX_RATE_QUOTA
from vts.config_fields import (
    Spec,
    build,
    choice,
    flag,
    integer,
    number,
    secret,
    setting,
    specs,
)
from vts.config_values import (
    is_loopback,
    parse_duration,
    parse_secret,
    parse_text,
    parse_upper,
    redact_url,
)
from vts.webhooks.schedule import SCHEDULE_ACCEPTED, parse_schedule

__all__ = [
    "Settings",
    "env_names",
    "load_settings",
    "setting_specs",
]

_URL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_DAYS_3650 = 3650 * 86400


def _is_url(value: str) -> bool:
    return bool(_URL.match(value))


@attrs.frozen
class Settings:
    """Everything vts reads at start-up. Each field declares its variable, default
    (as written in the variable), description and accepted values, once; its
    `vts serve` option is the field name. A bad value raises InvalidSettingError
    whether it comes from the environment, an option or code."""

    host: str = setting(
        "VTS_HOST",
        "127.0.0.1",
        "address to listen on",
        "a host name or IP address",
        parse_text,
        bool,
    )
    port: int = integer("VTS_PORT", "8000", "TCP port, 0 for any free one", 0, 65535)
    database_url: str = setting(
        "VTS_DATABASE_URL",
        "sqlite:///./vts.db",
        "job store URL",
        "a URL such as sqlite:///./vts.db or postgresql://user:pass@host/db",
        parse_text,
        _is_url,
        shown=redact_url,
    )
    redis_url: str = setting(
        "VTS_REDIS_URL",
        "fakeredis://",
        "cache/DLQ/pub-sub URL",
        "a URL such as fakeredis:// or redis://host:6379/0",
        parse_text,
        _is_url,
        shown=redact_url,
    )
    processor: str = setting(
        "VTS_PROCESSOR",
        "simulated",
        "processor plugin",
        "an installed processor plugin name",
        parse_text,
        bool,
    )
    concurrency: int = integer("VTS_CONCURRENCY", "64", "jobs run at once", 1, 10000)
    max_attempts: int = integer(
        "VTS_MAX_ATTEMPTS", "3", "attempts before dead-lettering", 1, 100
    )
    # A lost lease never uses an attempt: only a job that keeps killing its
    # workers is dead-lettered for it, as `lease-lost`.
    max_lease_losses: int = integer(
        "VTS_MAX_LEASE_LOSSES",
        "5",
        "leases lost to crashes before dead-lettering",
        1,
        1000,
    )
    lease_seconds: float = number(
        "VTS_LEASE_SECONDS", "30", "job lease length", 0.5, 86400, "seconds"
    )
    # A job's first report is written at once, and its outcome supersedes a
    # report not yet written; 0 writes every report.
    progress_interval: float = number(
        "VTS_PROGRESS_INTERVAL",
        "0.1",
        "seconds between a job's progress writes",
        0,
        60,
        "seconds",
    )
    event_loop: str = choice(
        "VTS_EVENT_LOOP",
        "auto",
        "uvloop, asyncio, or auto: uvloop where installed",
        ("auto", "uvloop", "asyncio"),
    )
    shutdown_grace: float = number(
        "VTS_SHUTDOWN_GRACE", "20", "drain time on SIGTERM", 0, 3600, "seconds"
    )
    retention: float = setting(
        "VTS_RETENTION",
        "0",
        "delete final jobs this long after they finish, e.g. 30d; 0 never",
        "a duration such as 30d, 12h, 90m or 3600 (seconds), at most 3650d; "
        "0 keeps jobs forever",
        parse_duration,
        lambda v: 0 <= v <= _DAYS_3650,
    )
    # A consumer resuming from an event older than this starts over.
    event_retention: float = setting(
        "VTS_EVENT_RETENTION",
        "24h",
        "keep logged job events this long, e.g. 24h; 0 forever",
        "a duration such as 24h, 7d, 90m or 3600 (seconds), at most 3650d; "
        "0 keeps events forever",
        parse_duration,
        lambda v: 0 <= v <= _DAYS_3650,
    )
    request_timeout: float = setting(
        "VTS_REQUEST_TIMEOUT",
        "10s",
        "deadline for request headers and body",
        "a duration such as 10s or 1m, from 0.1s to 1h",
        parse_duration,
        lambda v: 0.1 <= v <= 3600,
    )
    keepalive_timeout: float = setting(
        "VTS_KEEPALIVE_TIMEOUT",
        "75s",
        "idle keep-alive connection lifetime",
        "a duration such as 75s or 2m, at most 1h; 0 closes after each response",
        parse_duration,
        lambda v: 0 <= v <= 3600,
    )
    # Past it a new connection replaces the longest idle one or, if all are busy,
    # is answered 503 (probes and scrapes aside); lowered to fit RLIMIT_NOFILE.
    max_connections: int = integer(
        "VTS_MAX_CONNECTIONS",
        "10000",
        "open connections before new ones get 503",
        16,
        1_000_000,
    )
    # The rules: vts.api.urls.
    allow_private_urls: bool = flag(
        "VTS_ALLOW_PRIVATE_URLS", "false", "accept video URLs on private addresses"
    )
    webhook_timeout: float = setting(
        "VTS_WEBHOOK_TIMEOUT",
        "10s",
        "a webhook receiver's 2xx must come within this",
        "a duration such as 10s or 1m, from 0.1s to 5m",
        parse_duration,
        lambda v: 0.1 <= v <= 300,
    )
    webhook_retry_schedule: tuple[float, ...] = setting(
        "VTS_WEBHOOK_RETRY_SCHEDULE",
        "5s,5m,30m,2h,5h,10h,10h",
        "waits before webhook retries",
        SCHEDULE_ACCEPTED,
        parse_schedule,
    )
    webhook_allow_private: bool = flag(
        "VTS_WEBHOOK_ALLOW_PRIVATE",
        "false",
        "allow http and private addresses in webhook URLs",
    )
    # keys: an API key on every request but the public ones; none: every
    # request is an admin of tenant `default`.
    auth: str = choice(
        "VTS_AUTH",
        "auto",
        "auto, none or keys; auto is none on loopback only",
        ("auto", "none", "keys"),
    )
    admin_key: str | None = secret(
        "VTS_ADMIN_KEY", "a bootstrap bearer token, admin scope", 32, parse_secret
    )
    metrics_key: str | None = secret(
        "VTS_METRICS_KEY", "bearer token GET /metrics needs", 16, parse_secret
    )
    tenant_max_active_jobs: int = integer(
        "VTS_TENANT_MAX_ACTIVE_JOBS",
        "10000",
        "a new tenant's active job quota",
        1,
        MAX_ACTIVE_JOBS_QUOTA,
    )
    tenant_requests_per_second: float = number(
        "VTS_TENANT_REQUESTS_PER_SECOND",
        "0",
        "a new tenant's request rate per replica, 0 unlimited",
        0,
        MAX_RATE_QUOTA,
    )
    log_level: str = choice(
        "VTS_LOG_LEVEL",
        "INFO",
        "log verbosity",
        ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        parse_upper,
    )

    # The chosen processor's own settings, an instance of the class its plugin
    # declares (`plugin_settings.reads_settings`); None: that class's defaults. Not a variable:
    # `vts serve` builds it from the plugin's variables and options.
    processor_settings: object = attrs.field(default=None)

    @property
    def auth_mode(self) -> str:
        """`none` or `keys`: VTS_AUTH with `auto` resolved by VTS_HOST."""
        if self.auth != "auto":
            return self.auth
        return "none" if is_loopback(self.host) else "keys"

    @property
    def log_level_number(self) -> int:
        return int(logging.getLevelName(self.log_level))


def setting_specs() -> dict[str, Spec]:
    """Field name -> its declaration: the one table of settings."""
    return specs(Settings)


def env_names() -> dict[str, str]:
    """Field name -> environment variable."""
    return {name: spec.env for name, spec in setting_specs().items()}


def load_settings(
    env: Mapping[str, str],
    overrides: Mapping[str, object] | None = None,
    *,
    processor_settings_class: type | None = None,
) -> Settings:
    """Build Settings from the environment, with explicit options taking precedence;
    `processor_settings_class` (the chosen processor's, see `plugin_settings`) is
    built from the same sources into `processor_settings`.

    Raises InvalidSettingError naming the first bad variable and what it accepts.
    """
    settings = build(Settings, env, overrides)
    if processor_settings_class is None:
        return settings
    own: object = build(processor_settings_class, env, overrides)
    return attrs.evolve(settings, processor_settings=own)
