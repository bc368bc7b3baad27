"""The TranslationJob operator in-process, against kmock's Kubernetes emulator and a real vts."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import kmock as kmocking
import kopf
import pytest
import vts_operator.handlers  # noqa: F401  (registers the handlers with kopf)
from _auth_server import ADMIN, auth_server
from _kube import RES, declare_translationjobs, translationjob_watchers
from _operator_rbac import readme_permissions, used
from _process import VtsProcess, jobs_by_id
from _servers import free_port
from _support import wait_until


class NamingEmulator(kmocking.KubernetesEmulator):
    """kmock's emulator plus what the API server does with `metadata.generateName`
    (kopf names its Events that way; without it, every Event after the first is 409)."""

    async def _handle(self, request: Any) -> Any:
        data = request.data if request.action == kmocking.action.CREATE else None
        meta = data.get("metadata") if isinstance(data, dict) else None
        if isinstance(meta, dict) and meta.get("generateName") and not meta.get("name"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:10]
        return await super()._handle(request)


pytestmark = [
    pytest.mark.slow,
    pytest.mark.services,
    pytest.mark.kmock(cls=NamingEmulator),
]

NS = "ns1"
URL = f"/apis/vts.dev/v1alpha1/namespaces/{NS}/translationjobs"
VIDEO = "https://example.com/video.mp4"
# kopf's shutdown cancels every task started while it ran, kmock's keep-alive
# connection handlers included: a request on such a connection would hang forever.
CLOSE = {"Connection": "close"}
# Where kopf logs in: the kmock server of the running test (set by running_operator).
_API: dict[str, str] = {}


@kopf.on.login()
def _login_to_kmock(**_: Any) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(server=_API["url"], insecure=True)


class Served(Protocol):
    """A vts (or a server speaking its API) at `url`."""

    url: str


def _kubeconfig(kmock: Any, directory: Path) -> Path:
    """A kubeconfig naming the emulator: the operator's status writes (through
    kubernetes_asyncio) find the API server the way they do outside a cluster."""
    path = directory / "kubeconfig"
    cluster = {"server": str(kmock.url).rstrip("/"), "insecure-skip-tls-verify": True}
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "kmock", "cluster": cluster}],
                "users": [{"name": "test", "user": {"token": "test"}}],
                "contexts": [
                    {"name": "test", "context": {"cluster": "kmock", "user": "test"}}
                ],
                "current-context": "test",
            }
        )
    )
    return path


@contextlib.asynccontextmanager
async def running_operator(
    kmock: Any,
    vts: Served,
    monkeypatch: pytest.MonkeyPatch,
    retry: float = 0.3,
    max_retry: float = 300.0,
) -> AsyncIterator[str]:
    """kopf.operator() as a task of the test itself: kopf's shutdown cancels tasks
    created after it started, so it cannot live in an async fixture (RECIPES.md §3).
    Yields the URL of kopf's liveness endpoint."""
    monkeypatch.setenv("VTS_URL", vts.url)
    monkeypatch.setenv("VTS_OPERATOR_RETRY_DELAY", str(retry))
    monkeypatch.setenv("VTS_OPERATOR_RETRY_MAX_DELAY", str(max_retry))
    monkeypatch.setenv("VTS_OPERATOR_STATUS_INTERVAL", "0.2")
    declare_translationjobs(kmock)
    _API["url"] = str(kmock.url).rstrip("/")
    directory = Path(tempfile.mkdtemp(prefix="vts-operator-"))
    monkeypatch.setenv("KUBECONFIG", str(_kubeconfig(kmock, directory)))
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    settings = kopf.OperatorSettings()
    settings.scanning.disabled = True
    stop, ready = asyncio.Event(), asyncio.Event()
    watchers = translationjob_watchers(kmock)
    task = asyncio.create_task(
        kopf.operator(
            registry=kopf.get_default_registry(),
            settings=settings,
            standalone=True,
            namespaces=[NS],
            stop_flag=stop,
            ready_flag=ready,
            liveness_endpoint=liveness,
        )
    )
    try:
        await asyncio.wait_for(ready.wait(), 10)
        await wait_until(
            lambda: translationjob_watchers(kmock) > watchers, 10, 0.02, "kopf's watch"
        )
        yield liveness
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        shutil.rmtree(directory, ignore_errors=True)


async def apply(kmock: Any, name: str, uid: str | None = None, **spec: Any) -> None:
    """Create a TranslationJob (with the uid and generation the API server would
    give it, and a resourceVersion: RECIPES.md §3)."""
    meta = {"name": name, "namespace": NS, "generation": 1, "resourceVersion": "1"}
    spec = {"sourceLanguage": "en", "targetLanguage": "es", "videoUrl": VIDEO, **spec}
    body = {
        "apiVersion": "vts.dev/v1alpha1",
        "kind": "TranslationJob",
        "metadata": {**meta, "uid": uid or str(uuid.uuid4())},
        "spec": spec,
    }
    async with kmock.post(URL, json=body, headers=CLOSE) as response:
        assert response.status == 200, await response.text()


def status(kmock: Any, name: str) -> dict[str, Any]:
    """The resource's status as last seen (also after it was deleted)."""
    return dict(kmock.objects[RES, NS, name].last.raw.get("status") or {})


def condition(kmock: Any, name: str, kind: str) -> dict[str, Any]:
    found = [c for c in status(kmock, name).get("conditions", []) if c["type"] == kind]
    assert len(found) == 1, status(kmock, name)
    return dict(found[0])


def reason(kmock: Any, name: str, kind: str) -> str | None:
    """The reason of the resource's `kind` condition, None while it has none."""
    found = [c for c in status(kmock, name).get("conditions", []) if c["type"] == kind]
    return str(found[0]["reason"]) if found else None


def events(kmock: Any, name: str) -> list[tuple[str, str]]:
    """(type, reason) of every Event posted about `name`, oldest first."""
    return [
        (event["type"], event["reason"])
        for (resource, _, _), stored in list(kmock.objects.items())
        if resource.plural == "events"
        for event in [stored.last.raw]
        if event["involvedObject"]["name"] == name
    ]


async def wait_event(kmock: Any, vts: VtsProcess, name: str, why: str) -> None:
    """Wait for an Event with reason `why` (kopf posts them in the background)."""
    try:
        await vts.until(
            lambda: why in {r for _, r in events(kmock, name)}, 10, f"{why} Event"
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nEvents of {name}: {events(kmock, name)}"
        ) from None


async def reach(kmock: Any, vts: VtsProcess, name: str, phase: str) -> dict[str, Any]:
    """Wait until the resource's phase is `phase`; its status."""
    try:
        await vts.until(
            lambda: status(kmock, name).get("phase") == phase, 40, f"{name}: {phase}"
        )
    except AssertionError as exc:
        raise AssertionError(
            f"{exc}\nstatus of {name}: {status(kmock, name)}"
        ) from None
    return status(kmock, name)


async def vts_job(http: aiohttp.ClientSession, vts: VtsProcess, job_id: str) -> Any:
    async with http.get(f"{vts.url}/jobs/{job_id}") as response:
        assert response.status == 200, vts.logs()
        return await response.json()


async def test_operator_completes_rejects_and_cancels_translationjobs(
    kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: Any
) -> None:
    env = {"VTS_SIM_DURATION": "3", "VTS_SIM_ERROR_RATE": "0"}
    async with VtsProcess(tmp_path, env) as vts:
        async with running_operator(kmock, vts, monkeypatch) as liveness:
            await apply(kmock, "deleted")
            await apply(kmock, "stopped")
            await apply(kmock, "done", metadata={"title": "Intro"})
            await apply(kmock, "same", targetLanguage="EN")
            # The CRD's pattern cannot tell private hosts; vts's 422 is permanent.
            await apply(kmock, "metadata", videoUrl="http://169.254.169.254/latest/")

            deleted = await reach(kmock, vts, "deleted", "Processing")
            stopped = await reach(kmock, vts, "stopped", "Processing")
            cancel_url = f"{vts.url}/jobs/{stopped['jobId']}/cancel"
            async with http.post(cancel_url) as response:
                assert response.status == 200, await response.text()
            async with kmock.delete(f"{URL}/deleted", headers=CLOSE) as response:
                assert response.status == 200, await response.text()
            await vts.until(
                lambda: kmock.objects[RES, NS, "deleted"].deleted,
                10,
                "the finalizer released the deleted resource",
            )
            assert (await vts_job(http, vts, deleted["jobId"]))["status"] == "cancelled"
            await reach(kmock, vts, "stopped", "Cancelled")
            assert condition(kmock, "stopped", "Ready")["reason"] == "Cancelled"

            same = await reach(kmock, vts, "same", "Failed")
            rejected = condition(kmock, "same", "Failed")
            assert (rejected["status"], rejected["reason"]) == ("True", "Rejected")
            assert "target_language: must differ" in rejected["message"]
            assert "jobId" not in same
            await wait_event(kmock, vts, "same", "Rejected")
            private = await reach(kmock, vts, "metadata", "Failed")
            rejected = condition(kmock, "metadata", "Failed")
            assert (rejected["status"], rejected["reason"]) == ("True", "Rejected")
            assert "169.254.169.254, a link-local" in rejected["message"]
            assert "jobId" not in private

            done = await reach(kmock, vts, "done", "Completed")
            await wait_event(kmock, vts, "done", "Completed")
            async with http.get(liveness) as response:  # kopf run --liveness
                assert response.status == 200, await response.text()
                body = await response.json()
                assert body.get("following") == 0, body  # all final now
        job = await vts_job(http, vts, done["jobId"])
        assert job["metadata"] == {"title": "Intro", "video_url": VIDEO}
        assert done["result"] == job["result"]
        assert done["result"]["output_url"].startswith("https://")
        assert (done["progress"], done["observedGeneration"]) == (100, 1)
        assert (done["startedAt"], done["completedAt"]) == (
            job["started_at"],
            job["completed_at"],
        )
        assert condition(kmock, "done", "Ready")["status"] == "True"
        assert condition(kmock, "done", "Failed")["status"] == "False"
        for name in ("done", "same", "stopped"):
            for kind in ("Ready", "Failed"):
                assert condition(kmock, name, kind)["observedGeneration"] == 1
        assert events(kmock, "done") == [
            ("Normal", "Submitted"),
            ("Normal", "Processing"),
            ("Normal", "Completed"),
        ]
        assert len(await jobs_by_id(http, vts)) == 3  # none for the rejected spec
        assert not vts.error_lines(), vts.logs()
    # Create, follow, reject, cancel, release: every request was one the README's
    # permissions (and so the chart's Role) allow, and each of them was needed.
    everywhere, _ = readme_permissions()
    assert used(kmock) == everywhere


async def test_operator_marks_a_failed_job_failed(
    kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: Any
) -> None:
    env = {
        "VTS_SIM_DURATION": "0.3",
        "VTS_SIM_ERROR_RATE": "1",
        "VTS_MAX_ATTEMPTS": "1",
    }
    async with VtsProcess(tmp_path, env) as vts:
        async with running_operator(kmock, vts, monkeypatch):
            await apply(kmock, "doomed")
            failed = await reach(kmock, vts, "doomed", "Failed")
            await wait_event(kmock, vts, "doomed", "Failed")
        job = await vts_job(http, vts, failed["jobId"])
        assert job["status"] == "failed"
        assert failed["error"] == job["error"]
        cond = condition(kmock, "doomed", "Failed")
        assert cond["status"] == "True"
        assert cond["reason"] == "".join(
            word.capitalize() for word in job["error"]["code"].split("-")
        )
        assert job["error"]["message"] in cond["message"]
        assert condition(kmock, "doomed", "Ready")["status"] == "False"
        assert events(kmock, "doomed")[-1] == ("Warning", "Failed")


async def test_operator_restarted_mid_job_resumes_without_a_second_job(
    kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: Any
) -> None:
    env = {"VTS_SIM_DURATION": "3", "VTS_SIM_ERROR_RATE": "0"}
    async with VtsProcess(tmp_path, env) as vts:
        async with running_operator(kmock, vts, monkeypatch):
            await apply(kmock, "resumed")
            first = await reach(kmock, vts, "resumed", "Processing")
        # An operator that died after POST /translate but before its status patch:
        # the vts job exists, the resource does not name it yet.
        uid = str(uuid.uuid4())
        body = {
            "source_language": "en",
            "target_language": "es",
            "metadata": {"video_url": VIDEO},
        }
        # As the operator sends it: in the tenant named like the namespace.
        headers = {"Idempotency-Key": uid, "VTS-Tenant": NS}
        async with http.post(f"{vts.url}/translate", json=body, headers=headers) as r:
            assert r.status == 202, await r.text()
            orphan = (await r.json())["job_id"]

        async with running_operator(kmock, vts, monkeypatch):
            await apply(kmock, "adopted", uid=uid)
            resumed = await reach(kmock, vts, "resumed", "Completed")
            adopted = await reach(kmock, vts, "adopted", "Completed")
        assert resumed["jobId"] == first["jobId"]
        assert adopted["jobId"] == orphan
        assert set(await jobs_by_id(http, vts)) == {first["jobId"], orphan}
        assert not vts.error_lines(), vts.logs()


async def test_operator_rides_out_a_vts_outage(
    kmock: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http: Any
) -> None:
    env = {
        "VTS_SIM_DURATION": "2",
        "VTS_SIM_ERROR_RATE": "0",
        "VTS_LEASE_SECONDS": "1",
    }
    first = await VtsProcess(tmp_path, env).start()
    second = VtsProcess(tmp_path, {**env, "VTS_PORT": str(first.port)})
    try:
        async with running_operator(
            kmock, first, monkeypatch, retry=0.1, max_retry=1.0
        ):
            await apply(kmock, "running")
            await apply(kmock, "orphaned")
            await reach(kmock, first, "running", "Processing")
            await reach(kmock, first, "orphaned", "Processing")
            first.kill()
            await first.wait(10)

            await apply(kmock, "queued")
            async with kmock.delete(f"{URL}/orphaned", headers=CLOSE) as response:
                assert response.status == 200, await response.text()
            for name in ("running", "queued"):
                await first.until(
                    lambda name=name: reason(kmock, name, "Ready") == "VtsUnavailable",
                    20,
                    f"{name} showing vts as unavailable",
                )
            # vts gone for good as far as the deletion knows: released with a warning.
            await first.until(
                lambda: kmock.objects[RES, NS, "orphaned"].deleted,
                30,
                "the deleted resource released after bounded retries",
            )
            await wait_event(kmock, first, "orphaned", "CancelAbandoned")

            await second.start()  # same port, same database
            running = await reach(kmock, second, "running", "Completed")
            queued = await reach(kmock, second, "queued", "Completed")
        assert condition(kmock, "running", "Ready")["reason"] == "Completed"
        jobs = await jobs_by_id(http, second)
        assert {running["jobId"], queued["jobId"]} <= set(jobs)
        assert len(jobs) == 3  # the orphaned resource's job, never cancelled, too
        assert not second.error_lines(), second.logs()
    finally:
        first.close()
        second.close()


async def test_operator_refused_key_is_unauthorized_retried_slowly_then_recovers(
    kmock: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """vts refuses the operator's key (revoked, or a rollout not done yet): the
    resource shows Ready=False Unauthorized, is not Failed, and is retried every
    VTS_OPERATOR_AUTH_RETRY_DELAY; once vts accepts the key the job is created in
    the tenant of the resource's namespace."""
    caplog.set_level(logging.DEBUG)
    key = "vts_op_" + "k" * 43
    monkeypatch.setenv("VTS_API_KEY", key)
    monkeypatch.setenv("VTS_OPERATOR_AUTH_RETRY_DELAY", "0.5")
    async with auth_server({}) as vts:

        def submissions() -> list[float]:
            return [
                at
                for (method, path, _), at in zip(
                    vts.requests, vts.arrivals, strict=True
                )
                if (method, path) == ("POST", "/translate")
            ]

        async with running_operator(kmock, vts, monkeypatch):
            await apply(kmock, "locked")
            await wait_until(
                lambda: reason(kmock, "locked", "Ready") == "Unauthorized",
                20,
                message="Ready=False, Unauthorized",
            )
            await wait_until(lambda: len(submissions()) >= 3, 20, message="retries")
            locked = status(kmock, "locked")
            assert locked.get("phase") != "Failed" and "jobId" not in locked
            ready = condition(kmock, "locked", "Ready")
            assert ready["status"] == "False"
            assert "retrying in 0.5s: invalid API key (HTTP 401)" in ready["message"]
            vts.keys[key] = {ADMIN}  # the key is accepted from now on
            done = await reach_phase(kmock, "locked", "Completed")
        assert vts.jobs[done["jobId"]]["tenant"] == NS
        tenants = {h.get("VTS-Tenant") for _, p, h in vts.requests if p == "/translate"}
        assert tenants == {NS}
        gaps = [b - a for a, b in itertools.pairwise(submissions())]
        assert min(gaps) >= 0.45, f"retried in a tight loop: {gaps}"
        assert [e for e in events(kmock, "locked") if e[1] == "Unauthorized"] == [
            ("Warning", "Unauthorized")
        ], "one warning Event, not one per retry"
        assert condition(kmock, "locked", "Ready")["reason"] == "Completed"
        # The key is in no log line, no status and no Event.
        assert caplog.records and key not in caplog.text
        stored = [str(obj.last.raw) for obj in list(kmock.objects.values())]
        assert stored and not [text for text in stored if key in text]


async def reach_phase(kmock: Any, name: str, phase: str) -> dict[str, Any]:
    await wait_until(
        lambda: status(kmock, name).get("phase") == phase,
        40,
        message=f"{name}: {phase} (status: {status(kmock, name)})",
    )
    return status(kmock, name)
