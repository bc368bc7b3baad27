"""Shared benchmark plumbing: server subprocesses, machine facts, py-spy, tables."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
# The vts code the servers run: this work tree, or a snapshot of one commit (other
# engineers edit vts/ here while benchmarks run). Make one with
#   mkdir /tmp/vts-head && git archive HEAD vts | tar -x -C /tmp/vts-head
#   git rev-parse --short HEAD > /tmp/vts-head/COMMIT
# and run the scripts with BENCH_VTS_SRC=/tmp/vts-head (it goes first on PYTHONPATH,
# ahead of the editable install; the dist metadata and entry points stay the same).
BENCH_MAX_ACTIVE_JOBS = 100_000_000
# --auth runs: "vts+keys" is vts with VTS_AUTH=keys, and the client sends a tenant key.
BENCH_ADMIN_KEY = "bench-admin-" + "k" * 32
KEYS_ENV = {"VTS_AUTH": "keys", "VTS_ADMIN_KEY": BENCH_ADMIN_KEY}
GOAL_AUTH_COST = 0.05  # keys may cost at most this share of the throughput
VTS_SRC = Path(os.environ.get("BENCH_VTS_SRC") or REPO).resolve()
SEED_BODY = (
    b'{"source_language":"en","target_language":"es",'
    b'"metadata":{"video_url":"https://example.com/video.mp4"}}'
)
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def raise_nofile() -> int:
    """Raise this process's open-file limit to the hard limit (children inherit it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Server:
    """One HTTP server as a real subprocess on a free loopback port.

    `Server.vts(...)` runs `python -m vts serve` on a fresh SQLite file;
    `Server.trivial(...)` runs benchmarks/trivial_app.py, the ceiling.
    """

    def __init__(self, name: str, args: list[str], env: Mapping[str, str]) -> None:
        self.name = name
        self.args = args
        self.env = dict(env)
        self.port = int(self.env["VTS_PORT"])
        self.process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_path = ""
        self._cwd = VTS_SRC

    @classmethod
    def vts(
        cls,
        *,
        sim_duration: str = "0",
        concurrency: int = 64,
        workers: bool = True,
        extra_env: Mapping[str, str] | None = None,
        traced: bool = False,
        src: Path | None = None,
    ) -> Server:
        """`traced`: run benchmarks/_traced_vts.py, which writes `trace_path` at exit.
        `src`: the vts code to run (a snapshot, as VTS_SRC), for A/Bs in one run."""
        source = VTS_SRC if src is None else src.resolve()
        tmp = tempfile.TemporaryDirectory(prefix="vts-bench-")
        env = {
            **os.environ,
            "VTS_PORT": str(free_port()),
            "VTS_DATABASE_URL": f"sqlite:///{tmp.name}/vts.db",
            "VTS_SIM_DURATION": sim_duration,
            "VTS_SIM_ERROR_RATE": "0",
            "VTS_CONCURRENCY": str(concurrency),
            "VTS_LOG_LEVEL": "WARNING",
            # Benchmarks measure throughput, not quotas: every job is tenant
            # `default`'s, and backlogs and wrk runs pass the 10,000 default.
            "VTS_TENANT_MAX_ACTIVE_JOBS": str(BENCH_MAX_ACTIVE_JOBS),
            "BENCH_TRACE_FILE": f"{tmp.name}/trace.json",
            **(extra_env or {}),
        }
        if source != REPO:
            path = env.get("PYTHONPATH")
            env["PYTHONPATH"] = str(source) + (os.pathsep + path if path else "")
        args = [sys.executable, "-m", "vts", "serve"]
        if traced:
            args[1:3] = [str(HERE / "_traced_vts.py")]
        if not workers:
            args.append("--no-workers")
        server = cls("vts", args, env)
        server._tmp = tmp
        server._cwd = source
        return server

    @classmethod
    def trivial(cls, *, complete_after: float = 0.0) -> Server:
        env = {**os.environ, "VTS_PORT": str(free_port())}
        args = [sys.executable, str(HERE / "trivial_app.py")]
        if complete_after:
            args += ["--complete-after", str(complete_after)]
        return cls("trivial", args, env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def database_path(self) -> str | None:
        return None if self._tmp is None else f"{self._tmp.name}/vts.db"

    @property
    def trace_path(self) -> str | None:
        return None if self._tmp is None else f"{self._tmp.name}/trace.json"

    def start(self, timeout: float = 30.0) -> Server:
        log_dir = self._tmp.name if self._tmp else tempfile.gettempdir()
        self._log_path = os.path.join(log_dir, f"{self.name}-{self.port}.log")
        # A vts server's directory is its own: a restart (the soak) appends to its log.
        with open(self._log_path, "ab" if self._tmp else "wb") as log:
            self.process = subprocess.Popen(
                self.args, env=self.env, cwd=self._cwd, stdout=log, stderr=log
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited early: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not start: {self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, size: int = 2000) -> str:
        with contextlib.suppress(OSError), open(self._log_path, "rb") as log:
            return log.read()[-size:].decode(errors="replace")
        return ""

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM (vts drains and exits) and wait; SIGKILL if it hangs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL, as a crash would, and reap it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def rss_kib(self) -> int:
        """VmRSS of the server process, in KiB."""
        with open(f"/proc/{self.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS line")

    def dump_stacks(self) -> str:
        """Every thread's Python stack right now (py-spy dump), for a hung run."""
        spy = Path(sys.executable).with_name("py-spy")
        done = subprocess.run(
            [str(spy), "dump", "--pid", str(self.pid)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        return (done.stdout + done.stderr).decode(errors="replace")

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def tenant_key(server: Server) -> dict[str, str]:
    """The header of a tenant key (jobs:read, jobs:write) made with the admin key
    through POST /admin/keys: what a client sends, and what the server checks, with
    VTS_AUTH=keys. Its tenant gets the default quotas, which Server.vts lifts."""
    body = {"tenant": "bench", "scopes": ["jobs:read", "jobs:write"]}
    request = urllib.request.Request(
        f"{server.url}/admin/keys",
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {BENCH_ADMIN_KEY}",
            "Content-Type": "application/json",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 201, reply.read()
        return {"Authorization": f"Bearer {json.loads(reply.read())['key']}"}


def targets(run: int, auth: bool) -> tuple[str, ...]:
    """One run's servers: the ceiling right before vts, so both see the same
    background load; with `auth`, vts and vts+keys swap places every other run
    (A B, B A) so neither is always the one that runs later."""
    if not auth:
        return ("trivial", "vts")
    return ("trivial", "vts", "vts+keys") if run % 2 else ("trivial", "vts+keys", "vts")


def add_vts_env_option(parser: argparse.ArgumentParser) -> None:
    """`--vts-env KEY=VALUE` (repeatable): extra environment for the vts server only,
    for experiments such as VTS_REDIS_URL=redis://... or LD_PRELOAD=libeatmydata.so."""
    parser.add_argument(
        "--vts-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        type=_key_value,
        help="extra environment for the vts server (repeatable)",
    )


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@contextlib.contextmanager
def profiled(pid: int, output: str | None, rate: int = 250) -> Iterator[None]:
    """Sample `pid` with py-spy (collapsed stacks, all threads) while the block runs."""
    if not output:
        yield
        return
    spy = Path(sys.executable).with_name("py-spy")
    command = [str(spy), "record", "--pid", str(pid), "--rate", str(rate)]
    command += ["--format", "raw", "--threads", "--nonblocking", "-o", output]
    # e.g. BENCH_PYSPY_EXTRA=--gil: only samples of the thread holding the GIL
    command += os.environ.get("BENCH_PYSPY_EXTRA", "").split()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    time.sleep(0.5)  # let py-spy attach before the load starts
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
        if process.returncode not in (0, -signal.SIGINT):
            print(f"py-spy: {err.decode(errors='replace')[-500:]}", file=sys.stderr)
        else:
            print(f"profile written to {output}", file=sys.stderr)
