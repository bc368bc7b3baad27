"""API keys in the chart: VTS_AUTH, the admin key's Secret, the operator's and the
helm test pod's keys, the metrics key, and the generated key surviving upgrades."""

from __future__ import annotations

import string
import subprocess
from pathlib import Path
from typing import Any

import pytest

from chart._cluster import emulated_cluster
from chart._helm import (
    FULLNAME,
    Render,
    RenderError,
    containers,
    of_kind,
    one,
    pod_specs,
    secret_data,
    template,
)

AUTH = f"{FULLNAME}-auth"
ADMIN_KEY = "A" * 40
OTHER_KEY = "B" * 40


def env_of(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """name -> value or secretKeyRef of every env entry of the object's containers."""
    doc = one(docs, kind, name)
    spec = doc["spec"] if kind == "Pod" else doc["spec"]["template"]["spec"]
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"] if "valueFrom" in e else e["value"]
        for c in containers(spec)
        for e in c.get("env", [])
    }


def annotations(docs: list[dict[str, Any]], name: str) -> dict[str, str]:
    template = one(docs, "Deployment", name)["spec"]["template"]
    return dict(template["metadata"].get("annotations") or {})


def test_chart_auth_is_on_by_default_with_a_generated_admin_key(
    render: Render,
) -> None:
    docs = render()
    assert one(docs, "ConfigMap", FULLNAME)["data"]["VTS_AUTH"] == "keys"
    key = secret_data(one(docs, "Secret", AUTH))["admin-key"]
    assert len(key) == 48 and set(key) <= set(string.ascii_letters + string.digits)
    ref = {"name": AUTH, "key": "admin-key"}
    assert env_of(docs, "Deployment", FULLNAME)["VTS_ADMIN_KEY"] == ref
    assert env_of(docs, "Deployment", f"{FULLNAME}-operator")["VTS_API_KEY"] == ref
    assert env_of(docs, "Pod", f"{FULLNAME}-test")["VTS_API_KEY"] == ref
    # Only through secretKeyRef: the key is in no ConfigMap and no plain env value.
    for config_map in of_kind(docs, "ConfigMap"):
        assert key not in str(config_map["data"])
    for _, spec in pod_specs(docs):
        assert key not in str(spec)
    assert "VTS_METRICS_KEY" not in env_of(docs, "Deployment", FULLNAME)


def test_chart_helm_test_pod_proves_auth_is_on_then_reads_with_the_key(
    render: Render,
) -> None:
    on = one(render(), "Pod", f"{FULLNAME}-test")["spec"]["containers"][0]
    script = on["command"][-1]
    assert 'wget -q -T 10 -O- "$VTS/jobs"' in script and "grep -q 401" in script
    assert 'set -- --header "Authorization: Bearer $VTS_API_KEY"' in script
    assert '"$@" "$VTS/jobs?limit=1"' in script
    off = one(render("auth.enabled=false"), "Pod", f"{FULLNAME}-test")
    off_script = off["spec"]["containers"][0]["command"][-1]
    assert "Authorization" not in off_script and "401" not in off_script
    assert [e["name"] for e in off["spec"]["containers"][0]["env"]] == ["VTS"]
    for text in (script, off_script):
        subprocess.run(["sh", "-n", "-c", text], check=True, timeout=10)


def test_chart_auth_disabled_sets_vts_auth_none_and_wires_no_key(
    render: Render,
) -> None:
    docs = render("auth.enabled=false")
    assert one(docs, "ConfigMap", FULLNAME)["data"]["VTS_AUTH"] == "none"
    assert AUTH not in {s["metadata"]["name"] for s in of_kind(docs, "Secret")}
    for kind, name in (
        ("Deployment", FULLNAME),
        ("Deployment", f"{FULLNAME}-operator"),
        ("Pod", f"{FULLNAME}-test"),
    ):
        env = env_of(docs, kind, name)
        assert not {"VTS_ADMIN_KEY", "VTS_API_KEY"} & set(env), (kind, name)
    assert "checksum/auth" not in annotations(docs, f"{FULLNAME}-operator")


def test_chart_existing_secret_is_referenced_not_generated(render: Render) -> None:
    docs = render("auth.existingSecret=vts-admin", "auth.existingSecretKey=token")
    assert AUTH not in {s["metadata"]["name"] for s in of_kind(docs, "Secret")}
    ref = {"name": "vts-admin", "key": "token"}
    assert env_of(docs, "Deployment", FULLNAME)["VTS_ADMIN_KEY"] == ref
    assert env_of(docs, "Deployment", f"{FULLNAME}-operator")["VTS_API_KEY"] == ref
    assert env_of(docs, "Pod", f"{FULLNAME}-test")["VTS_API_KEY"] == ref


def test_chart_operator_may_have_its_own_key(render: Render) -> None:
    docs = render("operator.apiKey.existingSecret=vts-operator-key")
    operator = env_of(docs, "Deployment", f"{FULLNAME}-operator")
    assert operator["VTS_API_KEY"] == {"name": "vts-operator-key", "key": "api-key"}
    admin = {"name": AUTH, "key": "admin-key"}
    assert env_of(docs, "Deployment", FULLNAME)["VTS_ADMIN_KEY"] == admin


def test_chart_given_admin_key_goes_into_the_secret_and_rolls_the_pods(
    render: Render,
) -> None:
    first = render(f"auth.adminKey={ADMIN_KEY}")
    second = render(f"auth.adminKey={OTHER_KEY}")
    assert secret_data(one(first, "Secret", AUTH)) == {"admin-key": ADMIN_KEY}
    for name, annotation in (
        (FULLNAME, "checksum/config"),
        (f"{FULLNAME}-operator", "checksum/auth"),
    ):
        assert (
            annotations(first, name)[annotation]
            != annotations(second, name)[annotation]
        ), f"{name} would keep running with the old key"


@pytest.mark.parametrize(
    "sets", [("auth.adminKey=short",), ("auth.adminKey=" + "x" * 31 + " y",)]
)
def test_chart_refuses_an_admin_key_shorter_than_32_or_with_spaces(
    helm: Path, sets: tuple[str, ...]
) -> None:
    with pytest.raises(RenderError, match="adminKey"):
        template(helm, *sets)


def test_chart_metrics_key_protects_metrics_and_the_service_monitor_sends_it(
    render: Render,
) -> None:
    monitor = ("metrics.serviceMonitor.enabled=true",)
    docs = render(*monitor, "metrics.auth.enabled=true")
    data = secret_data(one(docs, "Secret", AUTH))
    assert set(data) == {"admin-key", "metrics-key"}
    assert data["metrics-key"] != data["admin-key"] and len(data["metrics-key"]) == 48
    ref = {"name": AUTH, "key": "metrics-key"}
    assert env_of(docs, "Deployment", FULLNAME)["VTS_METRICS_KEY"] == ref
    (endpoint,) = one(docs, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert endpoint["bearerTokenSecret"] == ref

    mine = render(
        *monitor,
        "metrics.auth.enabled=true",
        "metrics.auth.existingSecret=prom-token",
        "auth.enabled=false",
    )
    assert AUTH not in {s["metadata"]["name"] for s in of_kind(mine, "Secret")}
    ref = {"name": "prom-token", "key": "metrics-key"}
    assert env_of(mine, "Deployment", FULLNAME)["VTS_METRICS_KEY"] == ref
    (endpoint,) = one(mine, "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert endpoint["bearerTokenSecret"] == ref

    (public,) = one(render(*monitor), "ServiceMonitor", FULLNAME)["spec"]["endpoints"]
    assert "bearerTokenSecret" not in public


async def test_chart_generated_keys_are_made_once_and_kept_on_upgrade(
    helm: Path, tmp_path: Path
) -> None:
    """Against an emulated API server, so `lookup` reads the Secret a previous
    install left: an upgrade keeps the key (and rolls no pod), deleting the Secret
    and upgrading rotates it (and rolls vts and the operator)."""
    sets = ("metrics.auth.enabled=true",)
    async with emulated_cluster(helm, tmp_path) as cluster:
        installed = await cluster.render(*sets)
        keys = secret_data(one(installed, "Secret", AUTH))
        assert len(keys["admin-key"]) == len(keys["metrics-key"]) == 48
        for secret in of_kind(installed, "Secret"):  # what the install created
            await cluster.put_secret(secret["metadata"]["name"], secret_data(secret))

        upgraded = await cluster.render(*sets)
        assert secret_data(one(upgraded, "Secret", AUTH)) == keys
        for name in (FULLNAME, f"{FULLNAME}-operator"):
            assert annotations(upgraded, name) == annotations(installed, name)

        await cluster.delete_secret(AUTH)
        rotated = await cluster.render(*sets)
        new = secret_data(one(rotated, "Secret", AUTH))
        assert new["admin-key"] != keys["admin-key"]
        assert new["metrics-key"] != keys["metrics-key"]
        for name in (FULLNAME, f"{FULLNAME}-operator"):
            assert annotations(rotated, name) != annotations(installed, name)
