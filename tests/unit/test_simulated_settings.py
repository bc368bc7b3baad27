"""The simulated processor's own settings: declared by the plugin, read and checked by
`vts serve` only when that plugin is chosen, documented in --help and the README."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from _settings import assert_one_line_naming, junk
from hypothesis import given

from vts import registry
from vts.cli import build_parser, chosen_processor_settings, main, warn_unread_variables
from vts.config import Settings, load_settings
from vts.config_fields import option_help, option_of, specs
from vts.errors import InvalidSettingError, PluginError
from vts.plugin_settings import reads_settings
from vts.processors.simulated import SimulatedProcessor
from vts.processors.simulated_settings import SimDuration, SimulatedSettings

FIELD_OF = {spec.env: name for name, spec in specs(SimulatedSettings).items()}
DEFAULTS = {
    "VTS_SIM_DURATION": SimDuration(1.0, 5.0),
    "VTS_SIM_ERROR_RATE": 0.1,
    "VTS_SIM_SEED": None,
}
BAD_VALUES = {
    "VTS_SIM_DURATION": [
        "5-1",
        "-1",
        "abc",
        "nan",
        "inf",
        "1-inf",
        "nan-2",
        "1-",
        "",
        "1-2-3",
    ],
    "VTS_SIM_ERROR_RATE": ["-0.1", "1.01", "2", "nan", "inf", "-inf", "ten"],
    "VTS_SIM_SEED": ["0.5", "seven"],
}
BAD_TYPED = [
    ("VTS_SIM_ERROR_RATE", 1.5),
    ("VTS_SIM_ERROR_RATE", float("inf")),
    ("VTS_SIM_DURATION", SimDuration(5.0, 1.0)),
    ("VTS_SIM_SEED", 0.5),
]


def simulated(env: dict[str, str]) -> SimulatedSettings:
    """The simulated processor's settings as `vts serve` reads them from `env`."""
    own = load_settings(env, processor_settings_class=SimulatedSettings)
    assert isinstance(own.processor_settings, SimulatedSettings)
    return own.processor_settings


class OtherProcessor(SimulatedProcessor):
    """A second processor plugin, declaring no settings of its own."""


@pytest.fixture
def other_processor() -> Iterator[str]:
    registry.register(
        registry.PROCESSORS,
        "other",
        lambda name, settings: OtherProcessor(SimDuration(0, 0), 0.0, None),
    )
    yield "other"
    registry.reset()


def test_the_plugin_declares_its_settings_through_the_registry() -> None:
    assert (
        registry.settings_class(registry.PROCESSORS, "simulated") is SimulatedSettings
    )


def test_a_plugin_without_settings_declares_none(other_processor: str) -> None:
    assert registry.settings_class(registry.PROCESSORS, other_processor) is None


def test_settings_that_are_not_an_attrs_class_are_a_plugin_error() -> None:
    @reads_settings(dict)
    def factory(name: str, settings: Settings) -> SimulatedProcessor:
        raise AssertionError("never built")

    registry.register(registry.PROCESSORS, "odd", factory)
    try:
        with pytest.raises(PluginError, match=r"'odd'.*not an attrs class"):
            registry.settings_class(registry.PROCESSORS, "odd")
    finally:
        registry.reset()


def test_defaults_are_the_documented_ones() -> None:
    own = simulated({})
    assert {env: getattr(own, FIELD_OF[env]) for env in DEFAULTS} == DEFAULTS
    assert own == SimulatedSettings()
    assert set(FIELD_OF) == set(DEFAULTS) == set(BAD_VALUES)


def test_every_variable_is_read_and_options_win() -> None:
    env = {
        "VTS_SIM_DURATION": "0.5-1.5",
        "VTS_SIM_ERROR_RATE": "0.25",
        "VTS_SIM_SEED": "42",
    }
    own = simulated(env)
    assert (own.sim_duration, own.sim_error_rate, own.sim_seed) == (
        SimDuration(0.5, 1.5),
        0.25,
        42,
    )
    options = load_settings(
        env, {"sim_seed": "7"}, processor_settings_class=SimulatedSettings
    )
    assert attrs.evolve(own, sim_seed=7) == options.processor_settings


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    [("0", 0, 0), ("2", 2, 2), ("1-5", 1, 5), ("0.5-1.5", 0.5, 1.5), (" 3 ", 3, 3)],
)
def test_duration_is_a_number_or_a_range(raw: str, low: float, high: float) -> None:
    assert simulated({"VTS_SIM_DURATION": raw}).sim_duration == SimDuration(low, high)


@pytest.mark.parametrize("raw", ["0", "1", "0.5", "1.0"])
def test_error_rate_is_zero_to_one(raw: str) -> None:
    assert simulated({"VTS_SIM_ERROR_RATE": raw}).sim_error_rate == float(raw)


def test_an_empty_seed_is_unset() -> None:
    assert simulated({"VTS_SIM_SEED": ""}).sim_seed is None


@pytest.mark.parametrize(
    ("variable", "raw"),
    [(variable, raw) for variable, raws in BAD_VALUES.items() for raw in raws],
)
def test_a_bad_value_is_one_line_naming_its_variable(variable: str, raw: str) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        simulated({variable: raw})
    assert_one_line_naming(caught.value, variable)
    with pytest.raises(InvalidSettingError) as caught:
        SimulatedSettings(**{FIELD_OF[variable]: raw})
    assert_one_line_naming(caught.value, variable)


@pytest.mark.parametrize(("variable", "value"), BAD_TYPED)
def test_bad_typed_values_are_refused_naming_the_setting(
    variable: str, value: object
) -> None:
    with pytest.raises(InvalidSettingError) as caught:
        SimulatedSettings(**{FIELD_OF[variable]: value})
    assert_one_line_naming(caught.value, variable)


@pytest.mark.parametrize("variable", sorted(DEFAULTS))
@given(raw=junk)
def test_junk_parses_in_range_or_is_refused(variable: str, raw: str) -> None:
    try:
        own = simulated({variable: raw})
    except InvalidSettingError as exc:
        assert_one_line_naming(exc, variable)
        return
    assert 0 <= own.sim_duration.low <= own.sim_duration.high < float("inf")
    assert 0 <= own.sim_error_rate <= 1


def test_another_processor_does_not_read_them(other_processor: str) -> None:
    env = {"VTS_PROCESSOR": other_processor, "VTS_SIM_DURATION": "abc"}
    args = build_parser().parse_args(["serve"])
    assert chosen_processor_settings(args, env) is None
    assert load_settings(env).processor_settings is None


def test_only_serve_reads_them() -> None:
    args = build_parser().parse_args(["migrate"])
    assert chosen_processor_settings(args, {}) is None


def test_a_bad_value_stops_serve_before_it_starts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("VTS_SIM_ERROR_RATE", "2")
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("vts: VTS_SIM_ERROR_RATE='2'")
    assert main(["serve", "--sim-duration", "9-1"]) == 2
    assert capsys.readouterr().err.startswith("vts: VTS_SIM_DURATION='9-1'")


def serve_help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit):
        main(["serve", *argv, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


def test_serve_help_lists_the_chosen_processors_options(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = serve_help(capsys)
    assert "options of the processor (SimulatedSettings)" in text
    for name, spec in specs(SimulatedSettings).items():
        assert f"{option_of(name, spec)} {name.upper()}" in text
        assert option_help(spec) in text


def test_another_processor_takes_no_simulated_options(
    other_processor: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = serve_help(capsys, "--processor", other_processor)
    assert "--sim-duration" not in text
    with pytest.raises(SystemExit):
        main(["serve", "--processor", other_processor, "--sim-duration", "1"])
    assert "unrecognized arguments: --sim-duration" in capsys.readouterr().err


def test_unread_variables_are_named_never_their_values(
    other_processor: str, caplog: pytest.LogCaptureFixture
) -> None:
    env = {
        "VTS_PORT": "8000",
        "VTS_SIM_SEED": "7",
        "VTS_PRT": "s3cret-looking-value",
        "PATH": "/bin",
        # vts-client's and the operator's own: no typo.
        "VTS_URL": "http://127.0.0.1:8000",
        "VTS_API_KEY": "vts_k",
        "VTS_OPERATOR_NAMESPACES": "jobs",
    }
    caplog.set_level(logging.WARNING, logger="vts")
    warn_unread_variables(env, Settings(processor=other_processor))
    assert [r.getMessage() for r in caplog.records] == [
        "VTS_PRT is not a setting of vts or of processor 'other': ignored",
        "VTS_SIM_SEED is not a setting of vts or of processor 'other': ignored",
    ]
    caplog.clear()
    warn_unread_variables(
        env, load_settings(env, processor_settings_class=SimulatedSettings)
    )
    assert [r.getMessage() for r in caplog.records] == [
        "VTS_PRT is not a setting of vts or of processor 'simulated': ignored",
    ]
    assert "s3cret" not in caplog.text


README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_them_in_their_own_table() -> None:
    section = README.read_text().split("**The processor's own settings.**", 1)[1]
    table = section.split("| variable | option | default | meaning |\n", 1)[1]
    rows = table.split("\n\n", 1)[0].splitlines()[1:]
    cells = [[c.strip() for c in row.strip("|").split(" | ")][:3] for row in rows]
    assert cells == [
        [
            f"`{spec.env}`",
            f"`{option_of(name, spec)}`",
            "unset" if spec.default is None else f"`{spec.default}`",
        ]
        for name, spec in specs(SimulatedSettings).items()
    ]
