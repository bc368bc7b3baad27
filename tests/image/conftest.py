"""`tox -e image`: make a Debian 12 base, build localhost/vts:dev on it, remove it all.

Settings (environment):
- VTS_TEST_IMAGE_ENGINE: podman (default; private storage in a temporary folder)
  or docker (the daemon DOCKER_HOST names).
- VTS_TEST_IMAGE_BASE: build on this image instead (e.g. python:3.11-slim, where
  a registry is reachable); unset, a base is made with mmdebstrap.
- VTS_TEST_IMAGE_CACHE: where the mmdebstrap tarball is kept between local runs
  (~/.cache/vts-image); CI starts without it.
An engine that cannot start fails the run; nothing here skips.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from _container import REPO, chart_reference
from _engine import Engine, EngineError

IMAGE = "localhost/vts:dev"
BASE = "localhost/vts-test-base:bookworm"
LOCK = REPO / "requirements" / "image.lock"
WHEELS = REPO / "requirements" / "wheels"
# Debian 12's python3 is 3.11, as in python:3.11-slim; python3-venv makes the venv.
DEBIAN_PACKAGES = "python3,python3-venv,ca-certificates"


@pytest.fixture(scope="session")
def engine() -> Iterator[Engine]:
    try:
        engine = Engine(os.environ.get("VTS_TEST_IMAGE_ENGINE", "podman"))
        engine.check_running()
    except (EngineError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"the container engine cannot start: {exc}", pytrace=False)
    try:
        yield engine
    finally:
        engine.close()


def _base_tarball() -> Path:
    """A Debian 12 root filesystem with python3 (mmdebstrap, ~45 s), cached."""
    cache = Path(
        os.environ.get("VTS_TEST_IMAGE_CACHE", Path.home() / ".cache" / "vts-image")
    )
    tarball = cache / "debian-bookworm-python3.tar"
    if tarball.exists():
        return tarball
    program = shutil.which("mmdebstrap")
    if program is None:
        raise EngineError("mmdebstrap not found: apt-get install mmdebstrap")
    cache.mkdir(parents=True, exist_ok=True)
    partial = tarball.with_suffix(f".{os.getpid()}.partial.tar")
    command = [program, "--variant=minbase", f"--include={DEBIAN_PACKAGES}"]
    done = subprocess.run(
        [*command, "bookworm", str(partial)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise EngineError(f"mmdebstrap failed:\n{done.stderr[-3000:]}")
    partial.rename(tarball)
    return tarball


@pytest.fixture(scope="session")
def base_image(engine: Engine) -> str:
    """The image both stages build FROM."""
    chosen = os.environ.get("VTS_TEST_IMAGE_BASE")
    if chosen:
        return chosen
    change = 'CMD ["/bin/bash"]'
    engine("import", f"--change={change}", str(_base_tarball()), BASE, timeout=600)
    engine.images.append(BASE)
    return BASE


def _download_wheels() -> None:
    """Every wheel the lock names, hashes checked, for the build's --no-index install.

    Environment markers are dropped first: the host's Python (3.11.x) may skip a
    line the image's (Debian's 3.11.2) needs, such as async-timeout's."""
    unmarked = WHEELS / "unmarked.txt"
    text = re.sub(r" ;[^\\\n]*\\", " \\\\", LOCK.read_text())
    unmarked.write_text(text)
    done = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
            *("--only-binary=:all:", "--require-hashes", "-r", str(unmarked)),
            *("--dest", str(WHEELS)),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    unmarked.unlink()
    if done.returncode != 0:
        raise EngineError(f"pip download failed:\n{done.stderr[-3000:]}")


@pytest.fixture(scope="session")
def image(engine: Engine, base_image: str) -> str:
    """localhost/vts:dev, built with no index: wheels from the host, hashes checked.

    Also tagged as the chart's default reference (image.repository:appVersion)."""
    shutil.rmtree(WHEELS, ignore_errors=True)
    WHEELS.mkdir()
    before = engine.dangling()
    try:
        _download_wheels()
        engine.images.append(IMAGE)
        engine(
            "build",
            *engine.build_args(),
            f"--tag={IMAGE}",
            f"--build-arg=BASE_IMAGE={base_image}",
            f"--build-arg=WHEELS={WHEELS.relative_to(REPO)}",
            f"--file={REPO / 'Dockerfile'}",
            str(REPO),
            timeout=1200,
        )
    finally:
        shutil.rmtree(WHEELS, ignore_errors=True)
        engine.images += sorted(engine.dangling() - before)  # a build stage
    reference = chart_reference()
    if engine("image", "inspect", reference, check=False).returncode != 0:
        engine("tag", IMAGE, reference)  # never over an image the run did not make
        engine.images.append(reference)
    return IMAGE


@pytest.fixture
def volume(engine: Engine) -> str:
    """A fresh named volume for /data (removed with the run)."""
    name = engine.unique(f"v{len(engine.volumes)}")
    engine.volumes.append(name)
    engine("volume", "create", name)
    return name


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session
