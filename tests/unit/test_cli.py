"""`vts serve` refuses bad configuration with one line on stderr and exit status 2."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from vts.cli import fit_connections, main
from vts.config import Settings


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default VTS_DATABASE_URL (sqlite:///./vts.db) resolves inside tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something already listens on: serving there would fail."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def one_stderr_line(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert captured.out == ""
    return lines[0]


def test_serve_bad_port_option_exits_2_naming_variable(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "notaport"]) == 2
    line = one_stderr_line(capsys)
    assert "VTS_PORT" in line
    assert "'notaport'" in line
    assert "0-65535" in line
    assert not (workdir / "vts.db").exists()


@pytest.mark.parametrize(
    ("variable", "raw", "accepted"),
    [
        ("VTS_SIM_ERROR_RATE", "2", "from 0 to 1"),
        ("VTS_SIM_DURATION", "5-1", "min-max"),
        ("VTS_LOG_LEVEL", "loud", "DEBUG, INFO"),
        ("VTS_PORT", "70000", "0-65535"),
    ],
)
def test_serve_bad_environment_exits_2_naming_variable(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    raw: str,
    accepted: str,
) -> None:
    monkeypatch.setenv(variable, raw)
    assert main(["serve"]) == 2
    line = one_stderr_line(capsys)
    assert variable in line
    assert accepted in line
    assert not (workdir / "vts.db").exists()


def test_serve_option_beats_bad_environment(
    workdir: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The option wins, so the (bad) variable is never read: the next error is the port.
    monkeypatch.setenv("VTS_SIM_ERROR_RATE", "2")
    assert main(["serve", "--sim-error-rate", "0.5", "--port", "x"]) == 2
    line = one_stderr_line(capsys)
    assert "VTS_PORT" in line
    assert "VTS_SIM_ERROR_RATE" not in line


@pytest.mark.parametrize("how", ["env", "option"])
def test_serve_unknown_processor_exits_2_before_binding(
    workdir: Path,
    busy_port: int,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    argv = ["serve", "--port", str(busy_port)]
    if how == "env":
        monkeypatch.setenv("VTS_PROCESSOR", "nope")
    else:
        argv += ["--processor", "nope"]
    # Binding first would fail on the busy port with an OSError, not this message;
    # opening the store first would create ./vts.db.
    assert main(argv) == 2
    line = one_stderr_line(capsys)
    assert "'nope'" in line
    assert "vts.processors" in line
    assert "simulated" in line  # the installed plugins are listed
    assert "reinstall" in line
    assert not (workdir / "vts.db").exists()


def test_cli_unknown_command_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["frobnicate"])
    assert caught.value.code == 2
    assert "usage: vts" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("wanted", "open_files", "expected"),
    [
        (10_000, 1_048_576, 10_000),  # fits: kept
        (10_000, 1024, 864),  # lowered: 128 kept for the rest, 32 for probes
        (100, 1024, 100),
        (10_000, 64, 16),  # never below the smallest accepted value
    ],
)
def test_fit_connections_keeps_descriptors_for_everything_else(
    wanted: int, open_files: int, expected: int
) -> None:
    settings = Settings(max_connections=wanted)
    assert fit_connections(settings, open_files).max_connections == expected
