"""The Kubernetes API emulator (kmock) as the operator and chart tests use it: the
TranslationJob kind and what kopf looks up in discovery, kopf's watch on it, and
a kubeconfig that points at the emulator (RECIPES: the operator against kmock)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kmock
import yaml

RES = "vts.dev/v1alpha1/translationjobs"


def declare_translationjobs(emulator: Any) -> None:
    """The CRD's kind, Events, and what kopf waits for in discovery."""
    info = emulator.ResourceInfo
    emulator.resources[RES] = info(
        kind="TranslationJob",
        singular="translationjob",
        namespaced=True,
        subresources={"status"},
        verbs={"list", "watch", "get", "patch", "create", "delete"},
    )
    emulator.resources["v1/events"] = info(
        kind="Event", namespaced=True, verbs={"create", "get"}
    )
    emulator.resources["v1/namespaces"] = info(
        kind="Namespace", namespaced=False, verbs={"list", "watch", "get"}
    )
    emulator.resources["apiextensions.k8s.io/v1/customresourcedefinitions"] = info(
        kind="CustomResourceDefinition", namespaced=False, verbs={"list", "watch"}
    )


def translationjob_watchers(emulator: Any) -> int:
    """Watch streams following new TranslationJob events. Waiting for kopf's watch
    request is not enough: kmock replays the existing objects first and only then
    follows its event bus, so an object created in between is lost."""
    bus = emulator._buses[kmock.resource("vts.dev", "v1alpha1", "translationjobs")]
    count: int = bus.consumer_count
    return count


def write_kubeconfig(path: Path, server: str) -> None:
    """A kubeconfig for `server` (the emulator's URL), readable by any uid."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "test", "user": {"token": "test"}}],
        "contexts": [
            {"name": "test", "context": {"cluster": "emulator", "user": "test"}}
        ],
        "current-context": "test",
    }
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o644)
