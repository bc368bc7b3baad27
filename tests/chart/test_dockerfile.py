"""The Dockerfile lints clean, layers dependencies before source and matches the chart's user."""

from __future__ import annotations

import re
import subprocess

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


def test_dockerfile_builds_on_a_base_image_argument_defaulting_to_python_slim() -> None:
    """One Dockerfile for python:3.11-slim and CI's Debian 12 base (tox -e image)."""
    lines = _instructions()
    assert lines[0] == "ARG BASE_IMAGE=python:3.11-slim"
    stages = [line for line in lines if line.startswith("FROM ")]
    assert stages == ["FROM ${BASE_IMAGE} AS build", "FROM ${BASE_IMAGE}"]
    # `python3` exists in both bases (only python:3.11-slim has a bare `python`);
    # what runs later is the venv's, on the PATH.
    assert "RUN python3 -m venv /opt/venv" in lines
    assert 'CMD ["vts", "serve", "--host", "0.0.0.0"]' == lines[-1]


def test_dockerfile_final_stage_runs_vts_as_the_chart_user() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    final = _final_stage()
    user = next(line for line in final if line.startswith("USER "))
    uid = values["podSecurityContext"]["runAsUser"]
    gid = values["podSecurityContext"]["fsGroup"]
    assert user.split()[1] == f"{uid}:{gid}"
    text = " ".join(final)
    assert f'"vts:x:{uid}:{gid}:' in text and f'"vts:x:{gid}:"' in text
    assert f"chown {uid}:{gid} /data" in text
    assert f"EXPOSE {values['containerPort']}" in final
    env = " ".join(line for line in final if line.startswith("ENV "))
    assert (
        "VTS_HOST=0.0.0.0" in env and "VTS_DATABASE_URL=sqlite:////data/vts.db" in env
    )


def test_dockerfile_installs_the_hashed_lock_before_copying_source() -> None:
    lines = _instructions()
    deps = next(
        i for i, line in enumerate(lines) if "-r requirements/image.lock" in line
    )
    assert "--require-hashes" in lines[deps].split()
    assert '--no-index --find-links "$WHEELS"' in lines[deps]
    for source in ("COPY vts/", "COPY client/ ", "COPY operator/ "):
        copied = next(i for i, line in enumerate(lines) if line.startswith(source))
        assert copied > deps, source
    install = next(line for line in lines if "--no-deps" in line)
    assert all(part in install.split() for part in (".", "./client", "./operator"))
    assert "--no-build-isolation" in install.split()


def test_dockerfile_labels_the_image_with_the_projects_version() -> None:
    final = " ".join(_final_stage())
    project = (REPO / "pyproject.toml").read_text()
    version = re.search(r'^version = "([^"]+)"$', project, re.M)
    assert version is not None
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert f"ARG VERSION={version.group(1)}" in final
    assert chart["appVersion"] == version.group(1)
    for label in ("source", "version", "licenses"):
        assert f"org.opencontainers.image.{label}=" in final, label


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
        "!LICENSE",
        "!vts/",
        "!client/",
        "!operator/",
        "!requirements/",
    }
    assert "**/__pycache__" in lines
