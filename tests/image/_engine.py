"""A container engine CLI (podman or docker) that removes everything it created.

podman gets private storage and settings in a temporary folder (RECIPES.md §9: vfs,
runc, cgroupfs, ulimits), so the run leaves nothing in the machine's own storage and
deleting that folder frees every layer. docker uses the daemon DOCKER_HOST names; what
the run created there (containers, volumes, images) is removed by name.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

_STORAGE = """[storage]
driver = "vfs"
runroot = "{root}/run"
graphroot = "{root}/storage"
"""
_SETTINGS = """[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
"""


class EngineError(RuntimeError):
    """An engine command failed; the message carries its output."""


class Engine:
    """`engine(*args)` runs one command; `close()` removes what this run created."""

    def __init__(self, name: str) -> None:
        if name not in ("podman", "docker"):
            raise EngineError(
                f"VTS_TEST_IMAGE_ENGINE must be podman or docker: {name!r}"
            )
        program = shutil.which(name)
        if program is None:
            package = "podman buildah runc" if name == "podman" else "docker.io"
            raise EngineError(f"{name} not found: apt-get install {package}")
        self.name = name
        self.program = program
        self.run_id = uuid.uuid4().hex[:8]
        self.env = dict(os.environ)
        self.root: Path | None = None
        self.containers: list[str] = []
        self.volumes: list[str] = []
        self.images: list[str] = []
        if name == "podman":
            self.root = Path(tempfile.mkdtemp(prefix="vts-image-podman-"))
            (self.root / "storage.conf").write_text(_STORAGE.format(root=self.root))
            (self.root / "containers.conf").write_text(_SETTINGS)
            self.env["CONTAINERS_STORAGE_CONF"] = str(self.root / "storage.conf")
            self.env["CONTAINERS_CONF"] = str(self.root / "containers.conf")

    def __call__(
        self, *args: str, timeout: float = 120, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.program, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise EngineError(
                f"{self.name} {' '.join(args)} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    def check_running(self) -> None:
        """Fail (never skip) when the engine cannot work on this machine."""
        self("info", timeout=60)

    def dangling(self) -> set[str]:
        """Untagged images (docker's classic builder leaves a build stage as one)."""
        done = self("images", "--quiet", "--no-trunc", "--filter=dangling=true")
        return set(done.stdout.split())

    def unique(self, what: str) -> str:
        """A name for a container or volume of this run."""
        return f"vts-image-test-{what}-{self.run_id}"

    def build_args(self) -> list[str]:
        """Engine-specific `build` options (RECIPES §9). podman: chroot isolation, and
        one layer per stage: with vfs every layer is a full copy of the tree."""
        if self.name == "podman":
            return ["--isolation=chroot", "--layers=false"]
        return ["--network=host"]  # a daemon run with --bridge=none has no other

    def run_args(self) -> list[str]:
        """Engine-specific `run` options: podman mounts tmpfs on /run and /var/tmp
        under --read-only unless told not to; Kubernetes does not."""
        return ["--read-only-tmpfs=false"] if self.name == "podman" else []

    def close(self) -> None:
        """Remove the containers, volumes and images of this run, then podman's storage."""
        for container in self.containers:
            self("rm", "--force", "--volumes", container, check=False, timeout=120)
        for volume in self.volumes:
            self("volume", "rm", "--force", volume, check=False)
        for image in reversed(self.images):
            self("rmi", "--force", image, check=False, timeout=120)
        if self.root is not None:
            self("system", "reset", "--force", check=False, timeout=300)
            _unmount_under(self.root)
            shutil.rmtree(self.root, ignore_errors=True)


def _unmount_under(root: Path) -> None:
    """Lazily unmount whatever the engine left mounted below `root` (shm, netns)."""
    with open("/proc/mounts") as mounts:
        points = [line.split()[1] for line in mounts]
    for point in sorted(points, reverse=True):
        if point.startswith(f"{root}/"):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)
