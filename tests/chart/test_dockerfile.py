"""The Dockerfile lints clean, layers dependencies before source and matches the chart's user."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from chart._helm import CHART, REPO, tool

DOCKERFILE = REPO / "Dockerfile"


def _instructions() -> list[str]:
    """The Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    return [
        line for line in text.splitlines() if line.strip() and not line.startswith("#")
    ]


def _final_stage() -> list[str]:
    lines = _instructions()
    last_from = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    return lines[last_from:]


def test_dockerfile_passes_hadolint_at_warning_level() -> None:
    done = subprocess.run(
        [tool("hadolint"), "--failure-threshold", "warning", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_final_stage_runs_vts_as_the_chart_user() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    final = _final_stage()
    assert final[0].startswith("FROM python:3.11-slim")
    user = next(line for line in final if line.startswith("USER "))
    uid = values["podSecurityContext"]["runAsUser"]
    assert user.split()[1].split(":")[0] == str(uid)
    assert f"--uid {uid}" in " ".join(final)
    assert f"--gid {values['podSecurityContext']['fsGroup']}" in " ".join(final)
    assert f"EXPOSE {values['containerPort']}" in final
    assert final[-1] == 'CMD ["vts", "serve", "--host", "0.0.0.0"]'
    env = " ".join(line for line in final if line.startswith("ENV "))
    assert (
        "VTS_HOST=0.0.0.0" in env and "VTS_DATABASE_URL=sqlite:////data/vts.db" in env
    )


def test_dockerfile_installs_dependencies_before_copying_source() -> None:
    lines = _instructions()
    deps = next(i for i, line in enumerate(lines) if "-r /tmp/requirements.txt" in line)
    for source in ("COPY vts/", "COPY client/ ", "COPY operator/ "):
        copied = next(i for i, line in enumerate(lines) if line.startswith(source))
        assert copied > deps, source
    install = next(line for line in lines if "--no-deps" in line)
    assert all(part in install.split() for part in (".", "./client", "./operator"))


def test_dockerfile_dependency_list_has_the_extras_and_no_local_packages(
    tmp_path: Path,
) -> None:
    """Run the Dockerfile's own requirements step on this pyproject and stand-in siblings."""
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    (tmp_path / "client").mkdir()
    (tmp_path / "client" / "pyproject.toml").write_text(
        '[project]\nname = "vts-client"\nversion = "0"\ndependencies = ["httpx>=0.27"]\n'
        '[project.optional-dependencies]\ncli = ["rich>=13"]\n'
    )
    (tmp_path / "operator").mkdir()
    (tmp_path / "operator" / "pyproject.toml").write_text(
        '[project]\nname = "vts-operator"\nversion = "0"\n'
        'dependencies = ["kopf>=1.37", "vts_client>=0.1", "Vts-Client"]\n'
    )
    step = next(line for line in _instructions() if "tomllib" in line)
    command = step.removeprefix("RUN ").split(" > /tmp/requirements.txt")[0]
    argv = ["sh", "-c", command.replace("python -c", f"'{sys.executable}' -c", 1)]
    done = subprocess.run(
        argv, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    names = {
        re.split(r"[^A-Za-z0-9._-]", r, maxsplit=1)[0].lower()
        for r in done.stdout.split()
    }
    assert {"aiohttp", "asyncpg", "httpx", "rich", "kopf"} <= names
    assert names.isdisjoint({"vts", "vts-client", "vts_client", "vts-operator"})


def test_dockerignore_sends_only_what_the_image_installs() -> None:
    lines = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert (
        lines[0] == "*"
    )  # an allowlist: nothing else (.git, .tox, tests) reaches the build
    assert {line for line in lines if line.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!vts/",
        "!client/",
        "!operator/",
    }
    assert "**/__pycache__" in lines
