"""requirements/image.lock, what the image installs, matches the pyproject files.

The lock is made by `uv pip compile` from requirements/image.in (the command is in
both files); this test needs neither uv nor a network: it reads the lock's pins and
its `# via` notes and compares them with the three pyproject.toml files.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
INPUT = REPO / "requirements" / "image.in"
LOCK = REPO / "requirements" / "image.lock"
PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9._-]+)==(?P<version>\S+)(?: ; (?P<marker>.+?))?\s*\\$"
)


def _inputs() -> tuple[dict[str, list[str]], list[Requirement]]:
    """image.in's local projects (folder -> extras) and its plain requirements."""
    projects: dict[str, list[str]] = {}
    plain: list[Requirement] = []
    for line in INPUT.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("."):
            folder, _, extras = line.partition("[")
            projects[folder] = [e for e in extras.rstrip("]").split(",") if e]
        elif line:
            plain.append(Requirement(line))
    return projects, plain


@dataclass
class Pin:
    version: str
    hashes: list[str] = field(default_factory=list)
    via: set[str] = field(default_factory=set)


def _local_projects() -> dict[str, dict[str, Any]]:
    projects, _ = _inputs()
    return {
        folder: tomllib.loads((REPO / folder / "pyproject.toml").read_text())
        for folder in projects
    }


def _local_names() -> set[str]:
    return {
        canonicalize_name(data["project"]["name"])
        for data in _local_projects().values()
    }


def _required() -> list[Requirement]:
    """Third-party requirements of the projects, with the extras image.in asks for."""
    projects, plain = _inputs()
    found = list(plain)
    for folder, data in _local_projects().items():
        project = data["project"]
        lines = list(project.get("dependencies", []))
        for extra in projects[folder]:
            lines += project["optional-dependencies"][extra]
        found += [Requirement(line) for line in lines]
    local = _local_names()
    return [r for r in found if canonicalize_name(r.name) not in local]


def _pins() -> dict[str, Pin]:
    """name -> version, hashes and `# via` sources, as the lock lists them."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in LOCK.read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = Pin(match["version"])
            pins[canonicalize_name(match["name"])] = current
        elif current is not None and "--hash=sha256:" in line:
            current.hashes.append(line.split("sha256:")[1].rstrip(" \\"))
        elif current is not None and re.match(r"^\s+#\s+(via\s+)?\S", line):
            source = re.sub(r"^\s+#\s+(via\s+)?", "", line).strip()
            if source != "via":
                current.via.add(source)
        elif line.strip() and not line.startswith((" ", "#")):
            raise AssertionError(f"not an exact pin: {line!r}")
    return pins


def test_every_requirement_of_the_pyproject_files_is_pinned_within_its_range() -> None:
    pins = _pins()
    for requirement in _required():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in {LOCK.name}: compile it again"
        version = pins[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK.name} pins {name}=={version}, outside {requirement}"
        )


def test_the_locks_direct_requirements_are_exactly_the_pyproject_ones() -> None:
    """A dependency dropped from a pyproject file must leave the lock too."""
    sources = _local_names() | {"-r requirements/image.in"}
    direct = {name for name, pin in _pins().items() if pin.via & sources}
    assert direct == {canonicalize_name(r.name) for r in _required()}


def test_every_pin_has_hashes_and_no_local_project_is_pinned() -> None:
    pins = _pins()
    assert len(pins) > 10
    for name, pin in pins.items():
        assert pin.hashes, name
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in pin.hashes), name
    assert _local_names().isdisjoint(pins)


def test_the_lock_builds_the_local_projects_and_records_its_command() -> None:
    """The image builds the three projects offline: their build backend is locked."""
    pins = _pins()
    for data in _local_projects().values():
        for line in data["build-system"]["requires"]:
            requirement = Requirement(line)
            version = pins[canonicalize_name(requirement.name)].version
            assert requirement.specifier.contains(version), requirement
    command = LOCK.read_text().splitlines()[1].removeprefix("#").split()
    assert command[:4] == ["uv", "pip", "compile", "requirements/image.in"]
    assert "--generate-hashes" in command and command[-2:] == [
        "-o",
        "requirements/image.lock",
    ]
    # image.in shows the same command (a comment, continued with backslashes)
    documented = re.sub(r"\\\n#\s*", " ", INPUT.read_text()).replace("#", " ").split()
    start = documented.index("uv")
    assert documented[start : start + len(command)] == command
    assert {".", "./client", "./operator"} == set(_inputs()[0])
