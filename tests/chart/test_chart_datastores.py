"""The in-chart Postgres and Redis: names that hold for long release names, passwords
kept across upgrades, passwords from existing Secrets, a headless governing Service
and scheduling values like the vts pods'."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chart._cluster import emulated_cluster
from chart._helm import (
    FULLNAME,
    SCENARIOS,
    Render,
    containers,
    load,
    of_kind,
    one,
    secret_data,
    selects,
    template,
)

LONG_RELEASE = (
    "a-rather-long-release-name-for-the-translation-servic"  # 53: helm's limit
)
LONG_OVERRIDE = "x" * 52  # the schema's limit for fullnameOverride


def _env(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["name"]: e for c in containers(spec) for e in c.get("env", [])}


def _pod_spec(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec: dict[str, Any] = one(docs, kind, name)["spec"]["template"]["spec"]
    return spec


def _component(docs: list[dict[str, Any]], kind: str, component: str) -> Any:
    """The one object of `kind` of a component ("server": the vts Secret of URLs)."""
    (found,) = [
        d
        for d in of_kind(docs, kind)
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
        and not d["metadata"]["name"].endswith("-auth")
    ]
    return found


@pytest.mark.parametrize(
    ("release", "sets"),
    [
        (LONG_RELEASE, ()),
        ("demo", (f"fullnameOverride={LONG_OVERRIDE}",)),
    ],
    ids=["53-character-release", "52-character-fullname-override"],
)
def test_chart_datastore_secrets_are_named_as_their_pods_and_urls_use_them(
    helm: Path, release: str, sets: tuple[str, ...]
) -> None:
    docs = load(template(helm, *sets, release=release))
    for component, key in (
        ("postgresql", "POSTGRES_PASSWORD"),
        ("redis", "REDIS_PASSWORD"),
    ):
        secret = _component(docs, "Secret", component)["metadata"]["name"]
        workload = _component(
            docs,
            "StatefulSet" if component == "postgresql" else "Deployment",
            component,
        )
        env = _env(workload["spec"]["template"]["spec"])
        assert env[key]["valueFrom"]["secretKeyRef"]["name"] == secret
        assert len(secret) <= 63 and not secret.endswith("-")
    urls = secret_data(_component(docs, "Secret", "server"))
    services = {s["metadata"]["name"] for s in of_kind(docs, "Service")}
    host = urls["VTS_DATABASE_URL"].split("@")[1].split(":")[0]
    assert host in services
    assert urls["VTS_REDIS_URL"].split("@")[1].split(":")[0] in services


async def test_chart_datastore_passwords_survive_an_upgrade_with_a_long_release_name(
    helm: Path, tmp_path: Path
) -> None:
    """The password lookup reads the very Secret the chart renders: an upgrade of a
    release whose full name is over 41 characters keeps the Postgres password the
    database was initialised with (it used to look up another name and make a new
    one: vts then could not log in)."""
    async with emulated_cluster(helm, tmp_path, release=LONG_RELEASE) as cluster:
        installed = await cluster.render()
        for secret in of_kind(installed, "Secret"):
            await cluster.put_secret(secret["metadata"]["name"], secret_data(secret))
        upgraded = await cluster.render()
    for component in ("postgresql", "redis", "server"):
        before = secret_data(_component(installed, "Secret", component))
        assert secret_data(_component(upgraded, "Secret", component)) == before


def test_chart_postgres_statefulset_is_governed_by_a_headless_service(
    render: Render,
) -> None:
    docs = render()
    statefulset = one(docs, "StatefulSet", f"{FULLNAME}-postgresql")
    governing = one(docs, "Service", statefulset["spec"]["serviceName"])["spec"]
    assert governing["clusterIP"] == "None"
    assert governing["publishNotReadyAddresses"] is True
    labels = statefulset["spec"]["template"]["metadata"]["labels"]
    assert selects(governing["selector"], labels)
    client = one(docs, "Service", f"{FULLNAME}-postgresql")["spec"]
    assert client.get("clusterIP") != "None"  # vts connects through a stable ClusterIP


@pytest.mark.parametrize(
    ("component", "kind", "name"),
    [
        ("postgresql", "StatefulSet", f"{FULLNAME}-postgresql"),
        ("redis", "Deployment", f"{FULLNAME}-redis"),
    ],
)
def test_chart_datastores_take_scheduling_values_and_resources(
    render: Render, component: str, kind: str, name: str
) -> None:
    docs = render(
        f"{component}.nodeSelector.disk=ssd",
        f"{component}.tolerations[0].key=dedicated",
        f"{component}.tolerations[0].operator=Exists",
        f"{component}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].key=zone",
        f"{component}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
        ".nodeSelectorTerms[0].matchExpressions[0].operator=Exists",
        f"{component}.resources.limits.memory=3Gi",
        "nodeSelector.pool=vts",  # the vts pods' own: not the datastores'
    )
    spec = _pod_spec(docs, kind, name)
    assert spec["nodeSelector"] == {"disk": "ssd"}
    assert spec["tolerations"] == [{"key": "dedicated", "operator": "Exists"}]
    terms = spec["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "zone", "operator": "Exists"}]}]
    assert containers(spec)[0]["resources"]["limits"]["memory"] == "3Gi"
    for key in ("nodeSelector", "tolerations", "affinity"):
        assert key not in _pod_spec(render(), kind, name)


def _expand(env: dict[str, dict[str, Any]], name: str, values: dict[str, str]) -> str:
    """What the kubelet makes of `$(VAR)` references to earlier entries."""
    text: str = env[name]["value"]
    for var, value in values.items():
        text = text.replace(f"$({var})", value)
    return text


def test_chart_datastore_passwords_may_come_from_existing_secrets(
    render: Render,
) -> None:
    docs = render(*SCENARIOS["in-chart-existing-secrets"])
    assert {s["metadata"]["name"] for s in of_kind(docs, "Secret")} == {
        f"{FULLNAME}-auth"
    }  # no generated password, no URL Secret: nothing the chart could know
    pg = _env(_pod_spec(docs, "StatefulSet", f"{FULLNAME}-postgresql"))
    assert pg["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "pg-pass",
        "key": "password",
    }
    redis = _env(_pod_spec(docs, "Deployment", f"{FULLNAME}-redis"))
    assert redis["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "redis-pass",
        "key": "pw",
    }
    passwords = {"POSTGRES_PASSWORD": "Pg1", "REDIS_PASSWORD": "Rd2"}
    for kind, name in (("Deployment", FULLNAME), ("Job", f"{FULLNAME}-migrate")):
        spec = _pod_spec(docs, kind, name)
        for container in containers(spec):
            order = [e["name"] for e in container.get("env", [])]
            env = {e["name"]: e for e in container.get("env", [])}
            if "VTS_DATABASE_URL" not in env:
                continue
            # $(VAR) only expands variables defined before it
            assert order.index("POSTGRES_PASSWORD") < order.index("VTS_DATABASE_URL")
            assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == (
                "pg-pass"
            )
            assert _expand(env, "VTS_DATABASE_URL", passwords) == (
                f"postgresql://vts:Pg1@{FULLNAME}-postgresql:5432/vts"
            )
            if kind == "Deployment":
                assert order.index("REDIS_PASSWORD") < order.index("VTS_REDIS_URL")
                assert _expand(env, "VTS_REDIS_URL", passwords) == (
                    f"redis://:Rd2@{FULLNAME}-redis:6379/0"
                )
