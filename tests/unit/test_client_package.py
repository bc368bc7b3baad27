"""The client as a package: its version written once, `vts-client --version`, and a
library logger that stays quiet unless the application configures logging."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import translation_client
from translation_client import _version

CLIENT = Path(__file__).resolve().parents[2] / "client"


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *(("-c", code) if code else ()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_client_version_is_written_once_and_the_build_reads_it() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    attr = project["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "translation_client._version.__version__"
    assert translation_client.__version__ == _version.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+([.+-].+)?", _version.__version__)
    written = [
        path.name
        for path in (CLIENT / "translation_client").glob("*.py")
        if re.search(r"^__version__\s*=", path.read_text(), re.M)
    ]
    assert written == ["_version.py"]


def test_vts_client_version_prints_the_version_and_exits_0() -> None:
    done = _python("", "-m", "translation_client", "--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"vts-client {translation_client.__version__}"


def test_client_logs_reach_no_stderr_unless_the_application_configures_logging() -> (
    None
):
    quiet = _python(
        "import logging, translation_client\n"
        "logging.getLogger('translation_client').warning('retrying in 1s')"
    )
    assert quiet.returncode == 0 and quiet.stderr == "", quiet.stderr
    configured = _python(
        "import logging, translation_client\n"
        "logging.basicConfig()\n"
        "logging.getLogger('translation_client').warning('retrying in 1s')"
    )
    assert "retrying in 1s" in configured.stderr
