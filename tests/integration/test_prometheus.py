"""A real Prometheus scrapes a running vts and evaluates its alerting rules;
promtool lints what GET /metrics serves."""

from __future__ import annotations

import collections
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from _process import SEED_BODY, VtsProcess, jobs_by_id, submit
from _prometheus import (
    ALERT_RULES,
    PACKAGE_HINT,
    PrometheusServer,
    prometheus_binary,
    run_promtool,
)
from _tmpfs import fill, tmpfs

from vts.errors import PermanentError, TransientError
from vts.keys import metrics_key

JOBS = 8
# Instant simulated jobs, half of them failing, each with one attempt: some complete,
# some are dead-lettered. The seed makes the split the same on every run.
VTS_ENV = {
    "VTS_SIM_DURATION": "0",
    "VTS_SIM_ERROR_RATE": "0.5",
    "VTS_SIM_SEED": "7",
    "VTS_MAX_ATTEMPTS": "1",
}
TIMEOUT = 60.0  # a loaded 2-core CI machine: Prometheus scrapes and evaluates every 1 s
# `await until(condition, message)`: a bounded wait failing with both processes' logs.
Until = Callable[[Callable[[], Awaitable[bool]], str], Awaitable[None]]


@asynccontextmanager
async def scraped_vts(
    tmp_path: Path, env: dict[str, str]
) -> AsyncIterator[tuple[VtsProcess, aiohttp.ClientSession, PrometheusServer, Until]]:
    """A `vts serve` with `env` in tmp_path/vts, scraped by a Prometheus (in
    tmp_path/prometheus) that evaluates the alert rules; a client session; `until`
    waiting TIMEOUT seconds."""
    (tmp_path / "vts").mkdir()
    async with (
        VtsProcess(tmp_path / "vts", env) as vts,
        aiohttp.ClientSession() as http,
        PrometheusServer(
            tmp_path / "prometheus",
            [f"{vts.host}:{vts.port}"],
            rule_files=(ALERT_RULES,),
        ) as prometheus,
    ):

        async def until(condition: Callable[[], Awaitable[bool]], message: str) -> None:
            try:
                await vts.until(condition, TIMEOUT, message)
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{prometheus.logs()}") from None

        yield vts, http, prometheus, until


@pytest.mark.services
@pytest.mark.slow
async def test_prometheus_scrapes_vts_and_evaluates_its_alerts(
    tmp_path: Path, promtool: str
) -> None:
    async with scraped_vts(tmp_path, VTS_ENV) as (vts, http, prometheus, until):
        target = f"instance={vts.host}:{vts.port},job=vts"

        async def queried(expr: str, expected: dict[str, float]) -> bool:
            return await prometheus.query(http, expr) == expected

        # The target is up and Prometheus has seen the DLQ empty, before any job fails.
        await until(lambda: queried("up", {target: 1}), "the vts target up")
        await until(
            lambda: queried("vts_dlq_size", {target: 0}),
            "vts_dlq_size 0 scraped",
        )
        # The series VtsStoreUnavailable and VtsLeasesLost read, as they select them.
        await until(
            lambda: queried("vts_store_writable", {target: 1}),
            "vts_store_writable 1 scraped",
        )
        leases = "sum by (outcome) (vts_job_leases_lost_total)"
        await until(
            lambda: queried(
                leases, {"outcome=reclaimed": 0, "outcome=dead_lettered": 0}
            ),
            "vts_job_leases_lost_total exported at 0 for both outcomes",
        )

        ids = await submit(http, vts, JOBS)

        async def all_final() -> bool:
            jobs = await jobs_by_id(http, vts)
            return all(jobs[i]["status"] in ("completed", "failed") for i in ids)

        await until(all_final, f"{JOBS} jobs finishing")
        statuses = collections.Counter(
            job["status"] for job in (await jobs_by_id(http, vts)).values()
        )
        failed = statuses["failed"]
        assert statuses["completed"] > 0 and failed > 0, statuses

        # What Prometheus stored is what vts counted.
        await until(
            lambda: queried(
                "sum by (status) (vts_jobs_finished_total)",
                {
                    "status=completed": statuses["completed"],
                    "status=failed": failed,
                    "status=cancelled": 0,
                },
            ),
            f"vts_jobs_finished_total reaching {dict(statuses)}",
        )
        await until(
            lambda: queried("sum(vts_jobs_created_total)", {"": JOBS}),
            f"vts_jobs_created_total reaching {JOBS}",
        )
        await until(
            lambda: queried("max(vts_dlq_size)", {"": failed}),
            f"vts_dlq_size reaching {failed}",
        )

        # Every rule loaded and evaluates cleanly against real series.
        async def rules_healthy() -> bool:
            groups = (await prometheus.api(http, "rules"))["groups"]
            rules = [rule for group in groups for rule in group["rules"]]
            return len(rules) == len(_alert_names()) and all(
                rule["health"] == "ok" and not rule["lastEvaluation"].startswith("0001")
                for rule in rules
            )

        await until(rules_healthy, "every rule evaluated with health ok")

        # The new dead letters trip VtsDeadLettersGrowing (pending: it waits 5 min),
        # with the growth as its value; nothing else fires.
        async def dead_letters_alerted() -> bool:
            alerts = (await prometheus.api(http, "alerts"))["alerts"]
            return [
                (a["labels"]["alertname"], a["labels"]["job"], float(a["value"]))
                for a in alerts
            ] == [("VtsDeadLettersGrowing", "vts", failed)]

        await until(dead_letters_alerted, "VtsDeadLettersGrowing alone, pending")
        (alert,) = (await prometheus.api(http, "alerts"))["alerts"]
        assert alert["state"] == "pending"
        assert alert["annotations"]["summary"] == (
            f"vts dead-letter queue grew by {failed} in 30 minutes"
        )
        assert "POST /dlq/{job_id}/replay" in alert["annotations"]["description"]
    assert not vts.error_lines(), vts.logs()


@pytest.mark.services
@pytest.mark.slow
@pytest.mark.disk
async def test_prometheus_alerts_on_a_store_that_cannot_write(
    tmp_path: Path, promtool: str
) -> None:
    """vts's SQLite file on a 2 MiB tmpfs that fills up: vts_store_writable turns 0,
    VtsStoreUnavailable goes pending for that target, and clears once there is room."""
    with tmpfs(tmp_path / "disk", "2m") as disk:
        env = {**VTS_ENV, "VTS_SIM_ERROR_RATE": "0"}
        env["VTS_DATABASE_URL"] = f"sqlite:///{disk / 'vts.db'}"
        async with scraped_vts(tmp_path, env) as (vts, http, prometheus, until):
            target = {"instance": f"{vts.host}:{vts.port}", "job": "vts"}

            async def writable(value: float) -> bool:
                samples = await prometheus.query(http, "vts_store_writable")
                return list(samples.values()) == [value]

            async def store_alerts() -> list[tuple[str, dict[str, str]]]:
                alerts = (await prometheus.api(http, "alerts"))["alerts"]
                return [
                    (a["state"], a["labels"])
                    for a in alerts
                    if a["labels"]["alertname"] == "VtsStoreUnavailable"
                ]

            await until(lambda: writable(1), "vts_store_writable 1 scraped")
            assert await store_alerts() == []

            filler = fill(disk)
            # The store learns it cannot write from a write that fails.
            await until(lambda: _refused(http, vts), "POST /translate answering 503")
            await until(lambda: writable(0), "vts_store_writable 0 scraped")

            async def alerted() -> bool:
                return await store_alerts() == [
                    (
                        "pending",  # it waits 1 minute before firing
                        {
                            "alertname": "VtsStoreUnavailable",
                            "severity": "critical",
                            **target,
                        },
                    )
                ]

            await until(alerted, "VtsStoreUnavailable pending for the vts target")
            (alert,) = [
                a
                for a in (await prometheus.api(http, "alerts"))["alerts"]
                if a["labels"]["alertname"] == "VtsStoreUnavailable"
            ]
            assert alert["annotations"]["summary"] == (
                f"vts on {target['instance']} cannot write to its job store"
            )
            assert "full" in alert["annotations"]["description"]

            filler.unlink()
            await until(lambda: writable(1), "vts_store_writable 1 again")

            async def cleared() -> bool:
                return await store_alerts() == []

            await until(cleared, "VtsStoreUnavailable cleared")
        assert not vts.error_lines(), vts.logs()


async def _refused(http: aiohttp.ClientSession, vts: VtsProcess) -> bool:
    async with http.post(f"{vts.url}/translate", json=SEED_BODY) as response:
        assert response.status in (202, 503), await response.text()
        return response.status == 503


def _alert_names() -> list[str]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule["alert"] for group in groups for rule in group["rules"]]


@pytest.mark.services
async def test_promtool_check_metrics_passes_on_what_vts_serves(
    gated_client: Any, gate: Any, promtool: str
) -> None:
    """Every family with samples: jobs completed, dead-lettered and retried, an open
    WebSocket, error answers; a loop crash and a broker error are counted through the
    hooks their code calls (causing them for real is another test's work)."""
    done, dead, retried = [await gated_client.submit() for _ in range(3)]
    for job_id in (done, dead, retried):
        await gate.started(job_id)
    gate.succeed(done)
    gate.fail(dead, PermanentError("unsupported codec"))
    gate.fail(retried, TransientError("the video source timed out"))
    await gated_client.wait_status(done, "completed")
    await gated_client.wait_status(dead, "failed")
    async with gated_client.post("/translate", json={}) as response:
        assert response.status == 422
    metrics = gated_client.app[metrics_key]
    metrics.count_crash("vts-dispatch")
    metrics.broker_errors.labels("publish").inc()
    async with gated_client.ws_connect(f"/ws/job/{done}") as ws:
        await ws.receive_json(timeout=10)
        async with gated_client.get("/metrics") as response:
            assert response.status == 200
            body = await response.text()

    lint = run_promtool("check", "metrics", stdin=body)
    problems = lint.stdout + lint.stderr
    assert (lint.returncode, problems) == (0, ""), f"{problems}\n{body}"
    for family in (
        "vts_background_loop_crashes_total",
        "vts_broker_errors_total",
        "vts_job_attempts_failed_total",
        "vts_websocket_connections",
        "vts_job_duration_seconds_bucket",
    ):
        assert f"\n{family}{{" in body, family


def test_a_missing_prometheus_names_the_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError) as missing:
        prometheus_binary("promtool")
    assert str(missing.value) == f"promtool not found on PATH: {PACKAGE_HINT}"
