"""The operator's entry point as the chart's Deployment runs it, from the image."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import aiohttp
import kmock
from _container import ADMIN_KEY, VALUES, Container, run_once
from _engine import Engine
from _kube import (
    RES,
    declare_translationjobs,
    translationjob_watchers,
    write_kubeconfig,
)
from _servers import free_port
from _support import wait_until
from test_image_serve import QUICK

NS = "ns1"
URL = f"/apis/vts.dev/v1alpha1/namespaces/{NS}/translationjobs"
CLOSE = {"Connection": "close"}
KUBECONFIG = "/etc/vts-test/kubeconfig"


def operator_command(port: int) -> list[str]:
    """templates/operator/deployment.yaml's command, the liveness port made free."""
    return [
        *("kopf", "run", "-m", VALUES["operator"]["module"]),
        *("--all-namespaces", "--standalone"),
        f"--liveness=http://0.0.0.0:{port}/healthz",
    ]


class NamingEmulator(kmock.KubernetesEmulator):
    """kmock plus `metadata.generateName` (kopf names its Events that way)."""

    async def _handle(self, request: Any) -> Any:
        data = request.data if request.action == kmock.action.CREATE else None
        meta = data.get("metadata") if isinstance(data, dict) else None
        if isinstance(meta, dict) and meta.get("generateName") and not meta.get("name"):
            meta["name"] = meta["generateName"] + uuid.uuid4().hex[:10]
        return await super()._handle(request)


def operator_env(vts_url: str) -> dict[str, str]:
    return {"VTS_URL": vts_url, "VTS_API_KEY": ADMIN_KEY}


def test_operator_without_a_kubernetes_api_exits_with_a_clear_error(
    engine: Engine, image: str
) -> None:
    env = operator_env("http://127.0.0.1:9")
    code, output = run_once(engine, image, env, operator_command(free_port()))
    assert code != 0, output
    # kopf's start-up activity names the missing credentials and stops the process.
    assert "no Kubernetes credentials" in output, output


async def test_operator_runs_a_translationjob_against_the_api_emulator(
    engine: Engine, image: str, tmp_path: Path, http: aiohttp.ClientSession
) -> None:
    vts = Container(engine, image, QUICK)
    await vts.healthy(http)
    async with NamingEmulator() as emulator, kmock.Server(emulator):
        declare_translationjobs(emulator)
        config = tmp_path / "kubeconfig"
        write_kubeconfig(config, str(emulator.url).rstrip("/"))
        port = free_port()
        operator = Container(
            engine,
            image,
            {**operator_env(vts.url), "KUBECONFIG": KUBECONFIG},
            command=operator_command(port),
            mounts=[f"{config}:{KUBECONFIG}:ro"],
            port=port,
        )
        await operator.healthy(http)  # kopf's liveness endpoint
        await wait_until(
            lambda: translationjob_watchers(emulator) > 0, 60, 0.1, "kopf's watch"
        )

        body = {
            "apiVersion": "vts.dev/v1alpha1",
            "kind": "TranslationJob",
            "metadata": {
                "name": "hello",
                "namespace": NS,
                "uid": str(uuid.uuid4()),
                "generation": 1,
                "resourceVersion": "1",
            },
            "spec": {
                "sourceLanguage": "en",
                "targetLanguage": "es",
                "videoUrl": "https://example.com/video.mp4",
            },
        }
        async with emulator.post(URL, json=body, headers=CLOSE) as response:
            assert response.status == 200, await response.text()

        def phase() -> str | None:
            raw = emulator.objects[RES, NS, "hello"].last.raw
            return (raw.get("status") or {}).get("phase")

        try:
            await wait_until(lambda: phase() == "Completed", 90, 0.2, "Completed")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {phase()}\n{operator.logs()}") from None
        status = emulator.objects[RES, NS, "hello"].last.raw["status"]
        async with http.get(
            f"{vts.url}/jobs/{status['jobId']}",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        ) as response:
            assert (await response.json())["status"] == "completed"
        operator.remove()
