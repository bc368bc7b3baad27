"""A Kubernetes API emulator (kmock) that helm can talk to, so `lookup` sees Secrets.

`helm template --dry-run=server` renders like an install or upgrade does: its
`lookup` calls read the emulated cluster. Only what helm needs is served: discovery of
the chart's kinds, and get/list of objects the test puts there.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import kmock
from _kube import write_kubeconfig

from chart._helm import CHART, NAMESPACE, RELEASE, RenderError, load

KINDS = {
    "v1/secrets": "Secret",
    "v1/configmaps": "ConfigMap",
    "v1/services": "Service",
    "v1/serviceaccounts": "ServiceAccount",
    "v1/pods": "Pod",
    "apps/v1/deployments": "Deployment",
    "apps/v1/statefulsets": "StatefulSet",
    "batch/v1/jobs": "Job",
    "networking.k8s.io/v1/networkpolicies": "NetworkPolicy",
    "rbac.authorization.k8s.io/v1/clusterroles": "ClusterRole",
    "rbac.authorization.k8s.io/v1/clusterrolebindings": "ClusterRoleBinding",
}
_CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding"}


class _Emulator(kmock.KubernetesEmulator):
    """kmock 0.8 names the core group's version "/v1" in discovery; the API server
    (and helm's REST mapper) says "v1"."""

    async def _serve_version(self, request: Any) -> Any:
        payload = await super()._serve_version(request)
        if request.resource.group == "":
            payload["groupVersion"] = request.resource.version
        return payload


class Cluster:
    """The emulated cluster: `render(*sets)` runs helm against it."""

    def __init__(
        self, emulator: _Emulator, helm: Path, kubeconfig: Path, release: str
    ) -> None:
        self._emulator = emulator
        self._helm = helm
        self._kubeconfig = kubeconfig
        self.release = release

    async def put_secret(self, name: str, data: Mapping[str, str]) -> None:
        """A Secret as a previous install of the release left it (Helm's ownership
        metadata included, which helm checks before it adopts an object)."""
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": name,
                "namespace": NAMESPACE,
                "resourceVersion": "1",
                "labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {
                    "meta.helm.sh/release-name": self.release,
                    "meta.helm.sh/release-namespace": NAMESPACE,
                },
            },
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
        }
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets"
        async with self._emulator.post(
            path, json=body, headers={"Connection": "close"}
        ) as response:
            assert response.status == 200, await response.text()

    async def delete_secret(self, name: str) -> None:
        path = f"/api/v1/namespaces/{NAMESPACE}/secrets/{name}"
        async with self._emulator.delete(
            path, headers={"Connection": "close"}
        ) as response:
            assert response.status == 200, await response.text()

    async def render(self, *sets: str) -> list[dict[str, Any]]:
        """The manifests `helm upgrade` would apply now (lookup reads the cluster)."""
        args = [
            "template",
            self.release,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--dry-run=server",
            "--disable-openapi-validation",
            "--kubeconfig",
            str(self._kubeconfig),
        ]
        for pair in sets:
            args += ["--set", pair]
        process = await asyncio.create_subprocess_exec(
            str(self._helm),
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 120)
        if process.returncode != 0:
            raise RenderError(err.decode())
        return load(out.decode())


@asynccontextmanager
async def emulated_cluster(
    helm: Path, tmp: Path, release: str = RELEASE
) -> AsyncIterator[Cluster]:
    async with _Emulator() as emulator, kmock.Server(emulator):
        for resource, kind in KINDS.items():
            emulator.resources[resource] = emulator.ResourceInfo(
                kind=kind,
                namespaced=kind not in _CLUSTER_SCOPED,
                verbs={"get", "list", "create", "delete"},
            )
        kubeconfig = tmp / "kubeconfig"
        write_kubeconfig(kubeconfig, str(emulator.url).rstrip("/"))
        yield Cluster(emulator, helm, kubeconfig, release)
