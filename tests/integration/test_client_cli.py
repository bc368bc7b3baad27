"""The vts-client command line against a real `vts serve`: output and exit status."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from _process import VtsProcess, serve
from _servers import free_port

pytestmark = pytest.mark.slow

SUBMIT = ["submit", "--source", "en", "--target", "es"]
VIDEO = ["--video-url", "https://example.com/video.mp4"]


@pytest.fixture(scope="module")
def vts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    env = {"VTS_SIM_DURATION": "0.3", "VTS_SIM_ERROR_RATE": "0"}
    yield from serve(tmp_path_factory.mktemp("vts"), env)


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VtsProcess]:
    env = {
        "VTS_SIM_DURATION": "0.2",
        "VTS_SIM_ERROR_RATE": "1",
        "VTS_MAX_ATTEMPTS": "1",
    }
    yield from serve(tmp_path_factory.mktemp("failing"), env)


def command(*args: str, url: str | None = None) -> list[str]:
    """`python -m translation_client [--url URL] ARGS`."""
    return [
        sys.executable,
        "-m",
        "translation_client",
        *(["--url", url] if url else []),
        *args,
    ]


def cli(
    *args: str, url: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args, url=url), capture_output=True, text=True, timeout=60, env=env
    )


def test_cli_submit_wait_json_prints_the_completed_job(vts: VtsProcess) -> None:
    run = cli(
        "--json", *SUBMIT, *VIDEO, "--metadata", '{"title": "t"}', "--wait", url=vts.url
    )
    assert run.returncode == 0, run.stderr
    job = json.loads(run.stdout)
    assert (job["status"], job["progress"]) == ("completed", 100)
    assert job["metadata"] == {
        "title": "t",
        "video_url": "https://example.com/video.mp4",
    }
    # stderr is not a terminal here: one plain progress line per change.
    lines = run.stderr.splitlines()
    assert lines[0] == f"job {job['job_id']} submitted"
    assert lines[-1] == f"job {job['job_id']}: completed 100%"
    assert any(line.endswith("% translating") for line in lines), lines


def test_cli_console_script_reads_vts_url(vts: VtsProcess) -> None:
    script = Path(sys.executable).with_name("vts-client")
    env = {**os.environ, "VTS_URL": vts.url}
    run = subprocess.run(
        [str(script), "--json", *SUBMIT, *VIDEO],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    created = json.loads(run.stdout)
    assert created["status"] == "pending"
    assert created["message"] == "Translation job started"
    status = cli("--json", "status", created["job_id"], env=env)
    assert json.loads(status.stdout)["job_id"] == created["job_id"]


def test_cli_failed_job_exits_1(failing: VtsProcess) -> None:
    run = cli("--json", *SUBMIT, *VIDEO, "--wait", url=failing.url)
    assert run.returncode == 1, run.stderr
    job = json.loads(run.stdout)
    assert job["status"] == "failed" and job["error"]["message"]
    assert f"job {job['job_id']} failed: {job['error']['message']}" in run.stderr

    dead = cli("--json", "dlq", "list", url=failing.url)
    assert job["job_id"] in [entry["job_id"] for entry in json.loads(dead.stdout)]
    replay = cli("--json", "dlq", "replay", job["job_id"], url=failing.url)
    assert replay.returncode == 0, replay.stderr
    assert json.loads(replay.stdout)["status"] == "pending"
    watch = cli("watch", job["job_id"], url=failing.url)
    assert watch.returncode == 1, watch.stderr
    assert watch.stdout.splitlines()[-1].startswith(f"{job['job_id']}  failed")


def test_cli_cancelled_job_exits_3(slow: VtsProcess) -> None:
    created = json.loads(cli("--json", *SUBMIT, *VIDEO, url=slow.url).stdout)
    cancel = cli("cancel", created["job_id"], url=slow.url)
    assert cancel.returncode == 0, cancel.stderr
    assert "status       cancelled" in cancel.stdout
    watch = cli("--json", "watch", created["job_id"], url=slow.url)
    assert watch.returncode == 3
    assert json.loads(watch.stdout.splitlines()[-1])["status"] == "cancelled"
    assert watch.stderr == f"vts-client: error: job {created['job_id']} was cancelled\n"
    again = cli("cancel", created["job_id"], url=slow.url)
    assert again.returncode == 2 and "(HTTP 409)" in again.stderr


def test_cli_status_of_unknown_job_exits_2_with_one_line(vts: VtsProcess) -> None:
    unknown = str(uuid.uuid4())
    run = cli("status", unknown, url=vts.url)
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr == f"vts-client: error: no job with id {unknown} (HTTP 404)\n"


def test_cli_usage_errors_exit_2(vts: VtsProcess) -> None:
    assert cli(url=vts.url).returncode == 2
    bad_json = cli(*SUBMIT, *VIDEO, "--metadata", "[1]", url=vts.url)
    assert bad_json.returncode == 2 and "must be a JSON object" in bad_json.stderr
    rejected = cli(*SUBMIT[:-1], "en", *VIDEO, url=vts.url)
    assert rejected.returncode == 2
    assert "target_language: must differ from source_language" in rejected.stderr


def test_cli_wait_timeout_exits_4(slow: VtsProcess) -> None:
    run = cli(*SUBMIT, *VIDEO, "--wait", "--timeout", "0.05", url=slow.url)
    assert run.returncode == 4, run.stderr
    assert "did not finish within 0.05s" in run.stderr.splitlines()[-1]


def test_cli_unreachable_server_exits_5() -> None:
    run = cli("status", str(uuid.uuid4()), url=f"http://127.0.0.1:{free_port()}")
    assert run.returncode == 5
    assert run.stderr.startswith("vts-client: error: GET http://127.0.0.1:")
    assert "failed after 4 attempts" in run.stderr


def test_cli_list_prints_newest_first(vts: VtsProcess) -> None:
    ids = [
        json.loads(cli("--json", *SUBMIT, *VIDEO, url=vts.url).stdout)["job_id"]
        for _ in range(3)
    ]
    listed = json.loads(cli("--json", "list", "--limit", "2", url=vts.url).stdout)
    assert [job["job_id"] for job in listed] == ids[:0:-1]
    text = cli("list", "--limit", "3", url=vts.url).stdout.splitlines()
    assert [line.split()[0] for line in text] == ids[::-1]


def test_cli_progress_bar_on_a_terminal(vts: VtsProcess) -> None:
    controller, terminal = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    with subprocess.Popen(
        command("--json", *SUBMIT, *VIDEO, "--wait", url=vts.url),
        stdout=subprocess.PIPE,
        stderr=terminal,
        env=env,
    ) as process:
        os.close(terminal)
        screen = b""
        try:
            while chunk := os.read(controller, 65536):
                screen += chunk
        except OSError:  # EIO: the process closed its side, all read
            pass
        finally:
            os.close(controller)
        assert process.stdout is not None
        stdout = process.stdout.read()
    assert process.wait(60) == 0, screen
    assert json.loads(stdout)["status"] == "completed"
    text = screen.decode(errors="replace")
    assert "100%" in text and "completed" in text, text
    assert "━" in text, "a bar, not lines"
