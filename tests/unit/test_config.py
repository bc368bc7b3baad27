"""Settings from VTS_* variables and options: defaults, precedence, one-line errors."""

from __future__ import annotations

import logging
from pathlib import Path

import attrs
import pytest
from _settings import assert_one_line_naming, junk
from hypothesis import given

from vts.config import (
    Settings,
    env_names,
    load_settings,
    setting_specs,
)
from vts.config_fields import option_of
from vts.errors import InvalidSettingError

# The defaults the README and `vts serve --help` promise.
DEFAULTS = {
    "VTS_HOST": "127.0.0.1",
    "VTS_PORT": 8000,
    "VTS_DATABASE_URL": "sqlite:///./vts.db",
    "VTS_REDIS_URL": "fakeredis://",
    "VTS_PROCESSOR": "simulated",
    "VTS_CONCURRENCY": 64,
    "VTS_MAX_ATTEMPTS": 3,
    "VTS_MAX_LEASE_LOSSES": 5,
    "VTS_LEASE_SECONDS": 30.0,
    "VTS_PROGRESS_INTERVAL": 0.1,
    "VTS_SHUTDOWN_GRACE": 20.0,
    "VTS_RETENTION": 0.0,
    "VTS_EVENT_RETENTION": 86400.0,
    "VTS_REQUEST_TIMEOUT": 10.0,
    "VTS_KEEPALIVE_TIMEOUT": 75.0,
    "VTS_MAX_CONNECTIONS": 10000,
    "VTS_ALLOW_PRIVATE_URLS": False,
    "VTS_WEBHOOK_TIMEOUT": 10.0,
    "VTS_WEBHOOK_RETRY_SCHEDULE": (
        5.0,
        300.0,
        1800.0,
        7200.0,
        18000.0,
        36000.0,
        36000.0,
    ),
    "VTS_WEBHOOK_ALLOW_PRIVATE": False,
    "VTS_AUTH": "auto",
    "VTS_ADMIN_KEY": None,
    "VTS_METRICS_KEY": None,
    "VTS_TENANT_MAX_ACTIVE_JOBS": 10000,
    "VTS_TENANT_REQUESTS_PER_SECOND": 0.0,
    "VTS_LOG_LEVEL": "INFO",
    "VTS_EVENT_LOOP": "auto",
}
FIELD_OF = {variable: field for field, variable in env_names().items()}


def test_load_settings_defaults_match_documented_list() -> None:
    settings = load_settings({})
    assert set(FIELD_OF) == set(DEFAULTS)
    actual = {v: getattr(settings, FIELD_OF[v]) for v in DEFAULTS}
    assert actual == DEFAULTS
    assert settings == Settings()


def test_load_settings_reads_every_variable() -> None:
    env = {
        "VTS_HOST": "0.0.0.0",
        "VTS_PORT": "9100",
        "VTS_DATABASE_URL": "postgresql://vts@db/vts",
        "VTS_REDIS_URL": "redis://cache:6379/1",
        "VTS_PROCESSOR": "whisper",
        "VTS_CONCURRENCY": "4",
        "VTS_MAX_ATTEMPTS": "5",
        "VTS_MAX_LEASE_LOSSES": "2",
        "VTS_LEASE_SECONDS": "12.5",
        "VTS_PROGRESS_INTERVAL": "0",
        "VTS_SHUTDOWN_GRACE": "0",
        "VTS_RETENTION": "7d",
        "VTS_EVENT_RETENTION": "36h",
        "VTS_REQUEST_TIMEOUT": "2.5s",
        "VTS_KEEPALIVE_TIMEOUT": "2m",
        "VTS_MAX_CONNECTIONS": "500",
        "VTS_ALLOW_PRIVATE_URLS": "yes",
        "VTS_WEBHOOK_TIMEOUT": "2.5s",
        "VTS_WEBHOOK_RETRY_SCHEDULE": "0.5s, 250ms,5m,2h,1d",
        "VTS_WEBHOOK_ALLOW_PRIVATE": "on",
        "VTS_AUTH": "Keys",
        "VTS_ADMIN_KEY": "a" * 32,
        "VTS_METRICS_KEY": "m" * 16,
        "VTS_TENANT_MAX_ACTIVE_JOBS": "50",
        "VTS_TENANT_REQUESTS_PER_SECOND": "2.5",
        "VTS_LOG_LEVEL": "debug",
        "VTS_EVENT_LOOP": "AsyncIO",
    }
    settings = load_settings(env)
    assert (settings.host, settings.port) == ("0.0.0.0", 9100)
    assert settings.database_url == "postgresql://vts@db/vts"
    assert settings.redis_url == "redis://cache:6379/1"
    assert settings.processor == "whisper"
    assert (settings.concurrency, settings.max_attempts) == (4, 5)
    assert (settings.lease_seconds, settings.shutdown_grace) == (12.5, 0.0)
    assert settings.retention == 7 * 86400
    assert settings.event_retention == 36 * 3600
    assert settings.max_lease_losses == 2
    assert (settings.request_timeout, settings.keepalive_timeout) == (2.5, 120.0)
    assert settings.max_connections == 500
    assert settings.allow_private_urls is True
    assert settings.webhook_timeout == 2.5
    assert settings.webhook_retry_schedule == (0.5, 0.25, 300.0, 7200.0, 86400.0)
    assert settings.webhook_allow_private is True
    assert settings.log_level == "DEBUG"
    assert (settings.auth, settings.auth_mode) == ("keys", "keys")
    assert (settings.admin_key, settings.metrics_key) == ("a" * 32, "m" * 16)
    assert settings.tenant_max_active_jobs == 50
    assert settings.tenant_requests_per_second == 2.5
    assert settings.event_loop == "asyncio"
    assert settings.progress_interval == 0.0


def test_load_settings_overrides_beat_environment() -> None:
    env = {"VTS_PORT": "9000", "VTS_HOST": "0.0.0.0"}
    settings = load_settings(env, {"port": "9001", "host": None})
    assert settings.port == 9001
    assert settings.host == "0.0.0.0"  # an unset option leaves the variable in force


def test_load_settings_bad_override_names_its_variable() -> None:
    with pytest.raises(InvalidSettingError) as caught:
        load_settings({"VTS_PORT": "9000"}, {"port": "http"})
    assert_one_line_naming(caught.value, "VTS_PORT")


@pytest.mark.parametrize(("raw", "port"), [("0", 0), ("1", 1), ("65535", 65535)])
def test_port_accepts_range(raw: str, port: int) -> None:
    assert load_settings({"VTS_PORT": raw}).port == port


@pytest.mark.parametrize(
    ("raw", "level"),
    [
        ("debug", "DEBUG"),
        ("Warning", "WARNING"),
        (" error ", "ERROR"),
        ("INFO", "INFO"),
    ],
)
def test_log_level_is_case_insensitive(raw: str, level: str) -> None:
    settings = load_settings({"VTS_LOG_LEVEL": raw})
    assert settings.log_level == level
    assert settings.log_level_number == getattr(logging, level)


# What each setting refuses; each must stop start-up with one line naming it.
# Durations refused by both retention settings.
BAD_RETENTIONS = ["-1", "abc", "5w", "", "3651d", "1h30m", "nan", "inf", "\uff11d", "d"]
BAD_VALUES = {
    "VTS_HOST": [""],
    "VTS_PORT": ["-1", "65536", "80.5", "http", "", "8000x", "1\n2"],
    "VTS_DATABASE_URL": ["vts.db"],
    "VTS_REDIS_URL": ["localhost:6379"],
    "VTS_PROCESSOR": [""],
    "VTS_CONCURRENCY": ["0"],
    "VTS_MAX_ATTEMPTS": ["101"],
    "VTS_MAX_LEASE_LOSSES": ["0", "1001", "two", ""],
    "VTS_LEASE_SECONDS": ["0.1"],
    "VTS_PROGRESS_INTERVAL": ["-0.1", "61", "often"],
    "VTS_SHUTDOWN_GRACE": ["-1"],
    "VTS_RETENTION": BAD_RETENTIONS,
    "VTS_EVENT_RETENTION": BAD_RETENTIONS,
    "VTS_REQUEST_TIMEOUT": ["0", "0.05", "2h", "-1", "abc", "", "nan"],
    "VTS_KEEPALIVE_TIMEOUT": ["-1", "2h", "abc", "", "inf"],
    "VTS_MAX_CONNECTIONS": ["15", "1000001", "1e4", "", "many"],
    "VTS_ALLOW_PRIVATE_URLS": ["", "maybe", "2", "truee", "nope"],
    "VTS_WEBHOOK_TIMEOUT": ["0", "0.05", "6m", "-1", "abc", "", "nan"],
    "VTS_WEBHOOK_RETRY_SCHEDULE": [
        "",
        "5",
        "5s,",
        "5s,,5m",
        "0s",
        "-5s",
        "2d",
        "5w",
        "nan",
        "\uff15s",
        "5s;5m",
        ",".join(["1s"] * 51),
    ],
    "VTS_WEBHOOK_ALLOW_PRIVATE": ["", "maybe", "2"],
    "VTS_AUTH": ["", "yes", "token", "off"],
    "VTS_ADMIN_KEY": ["short", "x" * 31],
    "VTS_METRICS_KEY": ["short", "x" * 15],
    "VTS_TENANT_MAX_ACTIVE_JOBS": ["0", "-1", "many", "", "100000001"],
    "VTS_TENANT_REQUESTS_PER_SECOND": ["-1", "nan", "inf", "fast", ""],
    "VTS_LOG_LEVEL": ["verbose", "", "10", "notset"],
    "VTS_EVENT_LOOP": ["trio", ""],
}


def test_every_setting_has_bad_values_tested() -> None:
    assert set(BAD_VALUES) == set(env_names().values())


@pytest.mark.parametrize(
    ("variable", "raw"),
    [(variable, raw) for variable, raws in BAD_VALUES.items() for raw in raws],
)
def test_load_settings_bad_value_is_one_line_naming_variable(
    variable: str, raw: str
) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        load_settings({variable: raw})
    assert_one_line_naming(caught.value, variable)


@pytest.mark.parametrize("variable", sorted(DEFAULTS))
@given(raw=junk)
def test_load_settings_junk_parses_or_raises_invalid_setting(
    variable: str, raw: str
) -> None:
    try:
        settings = load_settings({variable: raw})
    except InvalidSettingError as exc:
        assert_one_line_naming(exc, variable)
        return
    assert 0 <= settings.port <= 65535


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("0", 0),
        ("3600", 3600),
        ("90s", 90),
        ("15m", 900),
        ("12h", 43200),
        ("30d", 2592000),
        ("1.5h", 5400),
        (" 2D ", 172800),
        ("3650d", 3650 * 86400),
    ],
)
def test_retention_accepts_durations(raw: str, seconds: float) -> None:
    assert load_settings({"VTS_RETENTION": raw}).retention == seconds
    assert load_settings({"VTS_EVENT_RETENTION": raw}).event_retention == seconds


@pytest.mark.parametrize(
    ("raw", "value"),
    [("true", True), ("FALSE", False), ("1", True), ("0", False), (" on ", True)],
)
def test_allow_private_urls_reads_booleans(raw: str, value: bool) -> None:
    assert load_settings({"VTS_ALLOW_PRIVATE_URLS": raw}).allow_private_urls is value


@pytest.mark.parametrize(
    ("host", "mode"),
    [
        ("127.0.0.1", "none"),
        ("127.8.9.10", "none"),
        ("::1", "none"),
        ("[::1]", "none"),
        ("localhost", "none"),
        ("LOCALHOST", "none"),
        ("0.0.0.0", "keys"),
        ("::", "keys"),
        ("10.0.0.5", "keys"),
        ("vts.example.com", "keys"),
    ],
)
def test_auth_auto_is_none_only_on_loopback(host: str, mode: str) -> None:
    assert load_settings({"VTS_HOST": host}).auth_mode == mode
    # An explicit choice wins over the host.
    assert load_settings({"VTS_HOST": host, "VTS_AUTH": "keys"}).auth_mode == "keys"
    assert load_settings({"VTS_HOST": host, "VTS_AUTH": "none"}).auth_mode == "none"


@pytest.mark.parametrize("variable", ["VTS_ADMIN_KEY", "VTS_METRICS_KEY"])
def test_secret_settings_are_never_shown(variable: str) -> None:
    secret = "s3cr3t-" + "z" * 40
    settings = load_settings({variable: secret})
    assert secret not in repr(settings)
    short = "tiny-secret"
    with pytest.raises(InvalidSettingError) as caught:
        load_settings({variable: short})
    assert short not in str(caught.value)
    assert_one_line_naming(caught.value, variable)


def test_empty_secret_settings_mean_unset() -> None:
    settings = load_settings({"VTS_ADMIN_KEY": "", "VTS_METRICS_KEY": ""})
    assert (settings.admin_key, settings.metrics_key) == (None, None)


@pytest.mark.parametrize("variable", ["VTS_DATABASE_URL", "VTS_REDIS_URL"])
def test_url_passwords_stay_out_of_the_repr_and_error_lines(variable: str) -> None:
    good = load_settings({variable: "postgresql://vts:S3cret@db:5432/vts"})
    assert "S3cret" not in repr(good)
    assert "vts:***@db" in repr(good)
    with pytest.raises(InvalidSettingError) as caught:
        load_settings({variable: "vts:S3cret@db/vts"})
    assert "S3cret" not in str(caught.value)
    assert_one_line_naming(caught.value, variable)


def test_the_event_loop_setting_names_the_loop_serve_runs() -> None:
    import uvloop

    from vts.cli import event_loop

    assert event_loop("asyncio") is None
    assert event_loop("uvloop") is event_loop("auto") is uvloop.new_event_loop


@pytest.mark.parametrize(
    ("variable", "raw"),
    [(variable, raw) for variable, raws in BAD_VALUES.items() for raw in raws],
)
def test_settings_refuses_what_load_settings_refuses(variable: str, raw: str) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        Settings(**{FIELD_OF[variable]: raw})
    assert_one_line_naming(caught.value, variable)


# Typed values built in code (tests, embedding applications) that no setting takes.
BAD_TYPED = [
    ("VTS_PORT", -1),
    ("VTS_PORT", 65536),
    ("VTS_PORT", 80.5),
    ("VTS_PORT", True),
    ("VTS_PORT", None),
    ("VTS_HOST", 8000),
    ("VTS_CONCURRENCY", 0),
    ("VTS_LEASE_SECONDS", 0.1),
    ("VTS_LEASE_SECONDS", float("nan")),
    ("VTS_RETENTION", -1.0),
    ("VTS_MAX_CONNECTIONS", 15),
    ("VTS_WEBHOOK_RETRY_SCHEDULE", ()),
    ("VTS_WEBHOOK_RETRY_SCHEDULE", (0.0,)),
    ("VTS_ALLOW_PRIVATE_URLS", None),
    ("VTS_LOG_LEVEL", "LOUD"),
    ("VTS_AUTH", "token"),
    ("VTS_ADMIN_KEY", "short"),
]


@pytest.mark.parametrize(("variable", "value"), BAD_TYPED)
def test_settings_refuses_bad_typed_values_naming_the_setting(
    variable: str, value: object
) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        Settings(**{FIELD_OF[variable]: value})
    assert_one_line_naming(caught.value, variable)
    # attrs.evolve builds a new Settings: the same check applies.
    with pytest.raises(InvalidSettingError):
        attrs.evolve(Settings(), **{FIELD_OF[variable]: value})


def test_settings_takes_typed_values_and_their_text_alike() -> None:
    typed = Settings(port=9000, lease_seconds=2, retention=3600.0, concurrency=7)
    assert (typed.port, typed.lease_seconds, typed.retention) == (9000, 2.0, 3600.0)
    assert isinstance(typed.lease_seconds, float)
    assert typed == load_settings(
        {
            "VTS_PORT": "9000",
            "VTS_LEASE_SECONDS": "2",
            "VTS_RETENTION": "1h",
            "VTS_CONCURRENCY": "7",
        }
    )
    assert Settings(admin_key="k" * 32).admin_key == "k" * 32


def test_every_default_is_written_as_its_variable_takes_it() -> None:
    # The documented default (README, --help) is the text the field parses.
    for name, spec in setting_specs().items():
        if spec.default is not None:
            parsed = load_settings({spec.env: spec.default})
            assert getattr(parsed, name) == getattr(Settings(), name), spec.env


README = Path(__file__).resolve().parents[2] / "README.md"


def readme_settings_table() -> list[list[str]]:
    section = README.read_text().split("\n## Configuration\n", 1)[1]
    table = section.split("| variable | option | default | meaning |\n", 1)[1]
    rows = table.split("\n\n", 1)[0].splitlines()[1:]  # past the | --- | row
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]


def test_readme_configuration_table_matches_the_settings() -> None:
    expected = [
        [
            f"`{spec.env}`",
            f"`{option_of(name, spec)}`" if not spec.secret else "—",
            "unset" if spec.default is None else f"`{spec.default}`",
        ]
        for name, spec in setting_specs().items()
    ]
    assert [row[:3] for row in readme_settings_table()] == expected


def test_serve_help_lists_every_option_with_its_variable_and_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from vts.cli import main

    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for name, spec in setting_specs().items():
        option = option_of(name, spec)
        if spec.secret:
            assert option is None and spec.env not in text
            continue
        assert f"{option} {name.upper()}" in text
        default = "" if spec.default is None else f", {spec.default}"
        assert f"{spec.help} [{spec.env}{default}]" in text
