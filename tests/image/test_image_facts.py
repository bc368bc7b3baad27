"""What the built image is: user, labels, contents, size, and docs/image.md saying so."""

from __future__ import annotations

import json
import re
from typing import Any

from _container import REPO, VALUES, chart_reference
from _engine import Engine

DOC = REPO / "docs" / "image.md"
MB = 1_000_000


def inspect(engine: Engine, image: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = json.loads(engine("image", "inspect", image).stdout)
    return found[0]


def size(engine: Engine, image: str) -> int:
    return int(engine("image", "inspect", "--format={{.Size}}", image).stdout)


def shell(engine: Engine, image: str, script: str, *, user: str = "0") -> str:
    """`sh -c script` in a throwaway container; its output."""
    done = engine("run", "--rm", f"--user={user}", image, "sh", "-c", script)
    return done.stdout.strip()


def documented(fact: str) -> str:
    """A row of docs/image.md's facts table: `| fact | value |`."""
    match = re.search(rf"^\| {re.escape(fact)} \| ([^|]+) \|", DOC.read_text(), re.M)
    assert match, f"docs/image.md records no {fact!r}"
    return match.group(1).strip()


def test_image_runs_as_the_charts_user_and_carries_oci_labels(
    engine: Engine, image: str
) -> None:
    config = inspect(engine, image)["Config"]
    uid = VALUES["podSecurityContext"]["runAsUser"]
    assert config["User"] == f"{uid}:{VALUES['podSecurityContext']['runAsGroup']}"
    assert shell(engine, image, "id -u", user=config["User"]) == str(uid)
    assert documented("user") == f"`{config['User']}` (vts)"

    labels = config["Labels"]
    version = re.search(
        r'^version = "([^"]+)"$', (REPO / "pyproject.toml").read_text(), re.M
    )
    assert version is not None
    assert labels["org.opencontainers.image.version"] == version.group(1)
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"
    assert labels["org.opencontainers.image.source"].startswith("https://")
    for label in ("source", "version", "licenses"):
        assert f"`org.opencontainers.image.{label}`" in DOC.read_text(), label


def test_no_healthcheck_and_the_docs_say_why(engine: Engine, image: str) -> None:
    assert not inspect(engine, image)["Config"].get("Healthcheck")
    assert documented("HEALTHCHECK").startswith("none")
    assert "No HEALTHCHECK" in (REPO / "Dockerfile").read_text()


def test_final_stage_has_no_compilers_caches_or_build_tools(
    engine: Engine, image: str
) -> None:
    script = (
        "for tool in gcc cc c++ g++ clang make ld; do command -v $tool; done; "
        "ls /var/cache/apt/archives/*.deb /root/.cache /tmp/.cache /src 2>/dev/null; "
        # (the base's own ensurepip wheels, Debian's or python.org's, are no leftover)
        "find / -xdev \\( -name '*.whl' -o -name '*.tar.gz' \\) -print 2>/dev/null"
        " | grep -v -e '^/usr/share/python-wheels/' -e '/ensurepip/_bundled/'; "
        "ls /var/lib/apt/lists | grep -v -x -e lock -e partial; "
        "ls /opt/venv/lib/python3.11/site-packages | grep -i -e '^setuptools' -e '^wheel'"
    )
    assert shell(engine, image, script + "; true") == ""
    imports = (
        "import vts, translation_client, vts_operator, kopf, asyncpg, uvloop, lupa"
    )
    assert shell(engine, image, f"python -c '{imports}' && echo ok") == "ok"


def test_image_size_is_within_a_fifth_of_its_base_plus_the_dependencies(
    engine: Engine, image: str, base_image: str
) -> None:
    venv = int(shell(engine, image, "du -sb /opt/venv").split()[0])
    base, built = size(engine, base_image), size(engine, image)
    assert built <= 1.2 * (base + venv), (built, base, venv)
    # What docs/image.md records for the installed dependencies still holds.
    recorded = float(documented("installed dependencies (/opt/venv)").split()[0])
    assert abs(venv / MB - recorded) <= 0.1 * recorded, venv / MB


def test_the_charts_default_image_reference_is_what_ci_builds(
    engine: Engine, image: str
) -> None:
    settings = VALUES["image"]
    assert settings["tag"] == ""  # the chart's appVersion
    assert settings["pullPolicy"] == "IfNotPresent"  # a loaded image is never pulled
    reference = chart_reference()
    assert inspect(engine, reference)["Id"] == inspect(engine, image)["Id"], (
        f"{reference} is another image: it was there before the run, which left it"
    )
    helm = (REPO / "README.md").read_text()
    assert f"{settings['repository']}:" in helm and "tox -e image" in helm
