"""A real Prometheus for tests (Debian's prometheus package): the binaries, a server.

No PyPI wheel carries Prometheus or promtool, so the tests take them from PATH;
.ci/run installs the package. A missing binary fails the tests that need it.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from _servers import free_port
from _support import answers_200, wait_until

REPO = Path(__file__).resolve().parents[1]
ALERT_RULES = REPO / "charts" / "vts" / "files" / "alerts.yaml"
PACKAGE_HINT = (
    "install Debian's prometheus package "
    "(apt-get install --no-install-recommends prometheus; .ci/run does)"
)
LOG_TAIL_CHARS = 3000


def prometheus_binary(name: str) -> str:
    """`prometheus` or `promtool` from PATH; RuntimeError naming the package if absent."""
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found on PATH: {PACKAGE_HINT}")
    return found


def run_promtool(
    *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `promtool ARGS` (bounded), returning its exit status and output."""
    return subprocess.run(
        [prometheus_binary("promtool"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


class PrometheusServer:
    """One `prometheus` on a free 127.0.0.1 port, with its own config and storage in
    `directory`, scraping `targets` (host:port) every `interval` and evaluating
    `rule_files` as often. `close()` stops it."""

    def __init__(
        self,
        directory: Path,
        targets: list[str],
        *,
        rule_files: tuple[Path, ...] = (),
        interval: str = "1s",
        startup_timeout: float = 60.0,
    ) -> None:
        self.binary = prometheus_binary("prometheus")
        self.directory = directory
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.startup_timeout = startup_timeout
        self.log_path = directory / "prometheus.log"
        self.config = {
            "global": {
                "scrape_interval": interval,
                "scrape_timeout": interval,
                "evaluation_interval": interval,
            },
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [
                {"job_name": "vts", "static_configs": [{"targets": targets}]}
            ],
        }
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self) -> PrometheusServer:
        """Start it; return once GET /-/ready answers 200 (bounded)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "prometheus.yml"
        config.write_text(yaml.safe_dump(self.config))
        # fmt: off
        args = [
            self.binary,
            "--config.file", str(config),
            "--storage.tsdb.path", str(self.directory / "data"),
            "--web.listen-address", f"127.0.0.1:{self.port}",
        ]
        # fmt: on
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        async with aiohttp.ClientSession() as http:
            try:
                await wait_until(
                    lambda: self._ready(http),
                    self.startup_timeout,
                    0.05,
                    f"prometheus on port {self.port} answering /-/ready",
                )
            except AssertionError as exc:
                self.close()
                raise AssertionError(f"{exc}\n{self.logs()}") from None
        return self

    async def _ready(self, http: aiohttp.ClientSession) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise AssertionError(f"prometheus exited with {self._process.returncode}")
        return await answers_200(http, f"{self.url}/-/ready")

    async def api(self, http: aiohttp.ClientSession, path: str, **params: str) -> Any:
        """GET /api/v1/PATH; the `data` of a successful answer."""
        async with http.get(f"{self.url}/api/v1/{path}", params=params) as response:
            body = await response.json()
        assert body.get("status") == "success", f"{path} {params}: {body}"
        return body["data"]

    async def query(self, http: aiohttp.ClientSession, expr: str) -> dict[str, float]:
        """An instant query's samples, keyed by their labels but the metric name,
        rendered `k=v,...` in label order."""
        data = await self.api(http, "query", query=expr)
        samples = {}
        for item in data["result"]:
            labels = sorted(item["metric"].items())
            key = ",".join(f"{k}={v}" for k, v in labels if k != "__name__")
            samples[key] = float(item["value"][1])
        return samples

    def logs(self) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            text = ""
        return f"--- prometheus ({self.log_path}) ---\n{text[-LOG_TAIL_CHARS:]}"

    def close(self) -> None:
        """Stop it (SIGTERM, then SIGKILL if it lingers) and reap it."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    async def __aenter__(self) -> PrometheusServer:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()
