"""Containers of the image started the way the Helm chart starts its pods."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _engine import Engine
from _servers import free_port
from _support import answers_200, wait_until

REPO = Path(__file__).resolve().parents[2]
VALUES: dict[str, Any] = yaml.safe_load(
    (REPO / "charts" / "vts" / "values.yaml").read_text()
)
# The chart's bootstrap admin key is a Secret; any 32+ characters do here.
ADMIN_KEY = "image-test-" + "k" * 40
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


def chart_security() -> list[str]:
    """podSecurityContext + securityContext of values.yaml as `run` options."""
    pod, container = VALUES["podSecurityContext"], VALUES["securityContext"]
    assert container["readOnlyRootFilesystem"] is True
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"]["drop"] == ["ALL"]
    return [
        f"--user={pod['runAsUser']}:{pod['runAsGroup']}",
        "--read-only",
        "--tmpfs=/tmp",  # the chart's emptyDir on /tmp
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        "--network=host",  # RECIPES §9; the port is VTS_PORT
    ]


class Container:
    """One detached container; `url` is its API on the host's loopback."""

    def __init__(
        self,
        engine: Engine,
        image: str,
        env: Mapping[str, str],
        *,
        volume: str | None = None,
        command: Sequence[str] = (),
        mounts: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        """`port`: where /healthz answers (VTS_PORT; a free one by default)."""
        self.engine = engine
        self.name = engine.unique(f"c{len(engine.containers)}")
        self.port = port or free_port()
        variables = {
            "VTS_HOST": "0.0.0.0",
            "VTS_PORT": str(self.port),
            "VTS_ADMIN_KEY": ADMIN_KEY,
            "VTS_SHUTDOWN_GRACE": str(VALUES["shutdownGraceSeconds"]),
            **env,
        }
        args = ["run", "--detach", f"--name={self.name}", *chart_security()]
        args += engine.run_args()
        args += [f"--env={k}={v}" for k, v in variables.items()]
        if volume is not None:
            args.append(f"--volume={volume}:/data")
        args += [f"--volume={mount}" for mount in mounts]
        engine.containers.append(self.name)
        engine(*args, image, *command, timeout=180)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def logs(self) -> str:
        done = self.engine("logs", self.name, check=False)
        return (done.stdout + done.stderr)[-4000:]

    def state(self) -> dict[str, Any]:
        done = self.engine("inspect", "--format={{json .State}}", self.name)
        state: dict[str, Any] = json.loads(done.stdout)
        return state

    def running(self) -> bool:
        return bool(self.state()["Running"])

    async def healthy(self, http: aiohttp.ClientSession, timeout: float = 90) -> None:
        """Wait until /healthz answers 200 (the chart's startup probe)."""

        async def up() -> bool:
            if not self.running():
                raise AssertionError(f"{self.name} exited:\n{self.logs()}")
            return await answers_200(http, f"{self.url}/healthz")

        try:
            await wait_until(up, timeout, 0.5, f"{self.name} /healthz")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def signal_and_wait(self, signal: str, timeout: float) -> tuple[int, float]:
        """Send `signal`, wait for the exit: (exit code, seconds it took)."""
        started = time.monotonic()
        self.engine("kill", f"--signal={signal}", self.name)
        done = self.engine("wait", self.name, timeout=timeout)
        return int(done.stdout.split()[0]), time.monotonic() - started

    def remove(self) -> None:
        self.engine("rm", "--force", "--volumes", self.name, timeout=120)


def run_once(
    engine: Engine, image: str, env: Mapping[str, str], command: Sequence[str]
) -> tuple[int, str]:
    """Run `command` to its end as the chart's Job does: (exit code, output)."""
    name = engine.unique(f"c{len(engine.containers)}")
    engine.containers.append(name)
    args = ["run", f"--name={name}", *chart_security(), *engine.run_args()]
    args += [f"--env={k}={v}" for k, v in env.items()]
    done = engine(*args, image, *command, timeout=300, check=False)
    engine("rm", "--force", "--volumes", name, check=False)
    return done.returncode, done.stdout + done.stderr


def termination_grace_seconds() -> int:
    """The vts pod's terminationGracePeriodSeconds (templates/deployment.yaml)."""
    return int(VALUES["shutdownGraceSeconds"] + VALUES["preStopSleepSeconds"] + 10)


def chart_reference() -> str:
    """The image the chart's pods run by default (templates/_helpers.tpl vts.image)."""
    chart = (REPO / "charts" / "vts" / "Chart.yaml").read_text()
    app_version = re.search(r'^appVersion: "?([^"\n]+)"?$', chart, re.M)
    assert app_version is not None
    tag = VALUES["image"]["tag"] or app_version.group(1)
    return f"{VALUES['image']['repository']}:{tag}"
