"""GET /metrics (Prometheus text), /healthz and /readyz over a real loopback port."""

from __future__ import annotations

from _support import wait_until
from prometheus_client.parser import text_string_to_metric_families

from vts.errors import PermanentError


async def _scrape(client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of GET /metrics, keyed by (name, labels)."""
    async with client.get("/metrics") as response:
        assert response.status == 200
        assert response.content_type == "text/plain"
        text = await response.text()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


async def test_metrics_after_a_completed_job(client) -> None:
    job_id = await client.submit()
    await client.wait_status(job_id, "completed")
    async with client.ws_connect(f"/ws/job/{job_id}") as ws:
        await ws.receive_json(timeout=10)
        samples = await _scrape(client)
        assert _value(samples, "vts_websocket_connections", endpoint="job") == 1
    await _wait_ws_closed(client)

    assert _value(samples, "vts_jobs_created_total") == 1
    assert _value(samples, "vts_jobs_finished_total", status="completed") == 1
    assert _value(samples, "vts_job_duration_seconds_count") == 1
    assert _value(samples, "vts_job_duration_seconds_bucket", le="+Inf") == 1
    assert _value(samples, "vts_job_duration_seconds_sum") >= 0
    assert _value(samples, "vts_jobs", status="completed") == 1
    for status in ("pending", "processing", "failed", "cancelled"):
        assert _value(samples, "vts_jobs", status=status) == 0
    assert _value(samples, "vts_dlq_size") == 0
    assert _value(samples, "vts_cache_hits_total") >= 1  # the status polls
    assert _value(samples, "vts_cache_misses_total") >= 0
    post = {"method": "POST", "route": "/translate"}
    assert _value(samples, "vts_http_requests_total", status="202", **post) == 1
    assert _value(samples, "vts_http_request_duration_seconds_count", **post) == 1
    get_job = {"method": "GET", "route": "/jobs/{job_id}", "status": "200"}
    assert _value(samples, "vts_http_requests_total", **get_job) >= 1
    # WebSocket upgrades are not timed as HTTP requests; closed sockets are counted off.
    assert not any(route.startswith("/ws/") for route in _routes(samples))


def _routes(samples) -> set[str]:
    return {
        dict(labels).get("route", "")
        for name, labels in samples
        if name == "vts_http_requests_total"
    }


async def _wait_ws_closed(client) -> None:
    async def closed() -> bool:
        samples = await _scrape(client)
        return _value(samples, "vts_websocket_connections", endpoint="job") == 0

    await wait_until(closed, message="the closed WebSocket counted off")


async def test_metrics_export_every_final_status_from_the_start(client) -> None:
    """A counter that first appears at 1 hides that increase from rate()/increase(),
    so the finished-jobs counter is exported at 0 before any job ends (VtsJobsStuck
    reads it)."""
    samples = await _scrape(client)
    for status in ("completed", "failed", "cancelled"):
        assert _value(samples, "vts_jobs_finished_total", status=status) == 0


async def test_metrics_count_errors_by_route_and_status(client) -> None:
    async with client.post("/translate", json={}) as response:
        assert response.status == 422
    async with client.get("/nowhere") as response:
        assert response.status == 404
    samples = await _scrape(client)
    bad = {"method": "POST", "route": "/translate", "status": "422"}
    assert _value(samples, "vts_http_requests_total", **bad) == 1
    assert _value(samples, "vts_jobs_created_total") == 0
    assert "/nowhere" not in _routes(samples)  # unmatched paths share one label


async def test_made_up_methods_share_one_label(client) -> None:
    """Clients cannot mint label values (Prometheus series) by inventing methods."""
    for method in ("PROPFIND", "MKCOL", "REPORT"):  # WebDAV: the parser admits them
        async with client.request(method, "/translate") as response:
            assert response.status == 405
    samples = await _scrape(client)
    methods = {
        dict(labels)["method"]
        for name, labels in samples
        if name == "vts_http_requests_total"
    }
    assert methods <= {"GET", "OTHER"}
    other = {"method": "OTHER", "route": "unmatched", "status": "405"}
    assert _value(samples, "vts_http_requests_total", **other) == 3


async def test_metrics_dlq_size_counts_dead_letters(gated_client, gate) -> None:
    job_id = await gated_client.submit()
    await gate.started(job_id)
    gate.fail(job_id, PermanentError("unsupported codec"))
    await gated_client.wait_status(job_id, "failed")

    async def counted() -> bool:
        return _value(await _scrape(gated_client), "vts_dlq_size") == 1

    await wait_until(counted, message="vts_dlq_size reaching 1")
    samples = await _scrape(gated_client)
    assert _value(samples, "vts_jobs_finished_total", status="failed") == 1
    assert _value(samples, "vts_jobs", status="failed") == 1


async def test_healthz_is_200(client) -> None:
    async with client.get("/healthz") as response:
        assert response.status == 200
        assert (await response.json())["status"] == "ok"


async def test_readyz_reports_store_and_broker_ok(client) -> None:
    async with client.get("/readyz") as response:
        assert response.status == 200
        body = await response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"store": "ok", "broker": "ok"}
