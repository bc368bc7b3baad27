"""Every rendered manifest is valid Kubernetes, locked down, and keeps credentials in Secrets."""

from __future__ import annotations

import re
from typing import Any

import kubernetes_validate
import pytest

from chart._helm import (
    FULLNAME,
    SCENARIOS,
    Render,
    containers,
    names,
    of_kind,
    one,
    pod_specs,
    secret_data,
)
from vts.config import Settings, env_names, load_settings, setting_specs
from vts.config_fields import build, specs
from vts.processors.simulated_settings import SimulatedSettings

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and a current one.
KUBE_VERSIONS = ("1.25", "1.35")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_chart_manifests_pass_strict_kubernetes_validation(
    scenario: list[dict[str, Any]], kube_version: str
) -> None:
    unvalidated, problems = set(), []
    for doc in scenario:
        try:
            kubernetes_validate.validate(doc, kube_version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            unvalidated.add(doc["kind"])
        except kubernetes_validate.ValidationError as exc:
            path = ".".join(str(p) for p in exc.path)
            name = f"{doc['kind']}/{doc['metadata']['name']}"
            problems.append(f"{name}: {path}: {exc.message[:300]}")
    assert problems == []
    # Only the prometheus-operator's kinds have no schema here; test_chart_scaling and
    # test_chart_alerts check them.
    assert unvalidated <= {"ServiceMonitor", "PrometheusRule"}
    assert "CustomResourceDefinition" in {doc["kind"] for doc in scenario}


def test_chart_vts_pods_probe_healthz_and_readyz(render: Render) -> None:
    pod = one(render(), "Deployment", FULLNAME)["spec"]["template"]["spec"]
    (vts,) = pod["containers"]
    assert vts["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert vts["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert vts["startupProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in vts["ports"]


def test_chart_every_container_runs_locked_down(render: Render) -> None:
    docs = render(*SCENARIOS["defaults"])
    seen = set()
    for label, spec in pod_specs(docs):
        pod_security = spec["securityContext"]
        assert pod_security["runAsNonRoot"] is True, label
        assert pod_security["runAsUser"] > 0, label
        assert pod_security["seccompProfile"] == {"type": "RuntimeDefault"}, label
        for container in containers(spec):
            security = container["securityContext"]
            where = f"{label} {container['name']}"
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            seen.add(where)
    assert (
        len(seen) == 7
    )  # vts, migrate + its wait, operator, postgres, redis, helm test


def test_chart_vts_pods_run_as_the_image_user_with_a_writable_tmp(
    render: Render,
) -> None:
    spec = one(render(), "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsUser"] == 10001
    assert spec["securityContext"]["fsGroup"] == 10001
    assert {"name": "tmp", "mountPath": "/tmp"} in spec["containers"][0]["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {}} in spec["volumes"]


def test_chart_every_container_has_requests_and_a_memory_limit(render: Render) -> None:
    for label, spec in pod_specs(render()):
        for container in containers(spec):
            resources = container["resources"]
            where = f"{label} {container['name']}"
            assert {"cpu", "memory"} <= set(resources["requests"]), where
            assert "memory" in resources["limits"], where


def _credentials(docs: list[dict[str, Any]]) -> set[str]:
    """Every password and API key the chart generated or was given in SCENARIOS."""
    found = {"db-s3cret", "redis-s3cret"}
    keys = {"password", "admin-key", "metrics-key"}
    for secret in of_kind(docs, "Secret"):
        found |= {v for k, v in secret_data(secret).items() if k in keys}
    return found


def test_chart_config_maps_and_plain_env_hold_no_credentials(
    scenario: list[dict[str, Any]],
) -> None:
    credentials = _credentials(scenario)
    plain = [str(cm.get("data", {})) for cm in of_kind(scenario, "ConfigMap")]
    for _, spec in pod_specs(scenario):
        for container in containers(spec):
            plain += [str(e.get("value", "")) for e in container.get("env", [])]
    for text in plain:
        # a URL is plain only when the kubelet fills in its password from a Secret
        text = re.sub(r"://([^:@/]*):\$\([A-Z_]+\)@", "://<from a Secret>@", text)
        assert "postgresql://" not in text or "<from a Secret>" in text, text
        assert "redis://" not in text or "<from a Secret>" in text, text
        assert not any(secret in text for secret in credentials), text


def test_chart_vts_secret_composes_urls_of_the_in_chart_services(
    render: Render,
) -> None:
    docs = render()
    pg_password = secret_data(one(docs, "Secret", f"{FULLNAME}-postgresql"))["password"]
    redis_password = secret_data(one(docs, "Secret", f"{FULLNAME}-redis"))["password"]
    assert (
        len(pg_password) == len(redis_password) == 32 and pg_password != redis_password
    )
    assert secret_data(one(docs, "Secret", FULLNAME)) == {
        "VTS_DATABASE_URL": f"postgresql://vts:{pg_password}@{FULLNAME}-postgresql:5432/vts",
        "VTS_REDIS_URL": f"redis://:{redis_password}@{FULLNAME}-redis:6379/0",
    }
    statefulset = one(docs, "StatefulSet", f"{FULLNAME}-postgresql")
    env = {
        e["name"]: e
        for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": f"{FULLNAME}-postgresql",
        "key": "password",
    }


def test_chart_given_passwords_are_url_quoted(render: Render) -> None:
    docs = render("postgresql.auth.password=p@ss/word", "redis.auth.enabled=false")
    urls = secret_data(one(docs, "Secret", FULLNAME))
    assert urls["VTS_DATABASE_URL"].startswith("postgresql://vts:p%40ss%2Fword@")
    assert urls["VTS_REDIS_URL"] == f"redis://{FULLNAME}-redis:6379/0"
    assert f"{FULLNAME}-redis" not in names(docs, "Secret")


def _secret_refs(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    spec = one(docs, kind, name)["spec"]["template"]["spec"]
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"]
        for c in containers(spec)
        for e in c.get("env", [])
        if "valueFrom" in e
    }


def test_chart_external_urls_go_into_the_vts_secret(render: Render) -> None:
    docs = render(*SCENARIOS["external-services"])
    assert secret_data(one(docs, "Secret", FULLNAME)) == {
        "VTS_DATABASE_URL": "postgresql://vts:db-s3cret@db.example.com:5432/vts",
        "VTS_REDIS_URL": "rediss://:redis-s3cret@redis.example.com:6380/0",
    }
    assert not [d for d in docs if "postgresql" in d["metadata"]["name"]]
    assert not [d for d in docs if d["metadata"]["name"].endswith("-redis")]
    assert _secret_refs(docs, "Deployment", FULLNAME) == {
        "VTS_DATABASE_URL": {"name": FULLNAME, "key": "VTS_DATABASE_URL"},
        "VTS_REDIS_URL": {"name": FULLNAME, "key": "VTS_REDIS_URL"},
        "VTS_ADMIN_KEY": {"name": f"{FULLNAME}-auth", "key": "admin-key"},
    }


def test_chart_existing_secrets_are_referenced_not_copied(render: Render) -> None:
    docs = render(*SCENARIOS["existing-secrets"])
    assert of_kind(docs, "Secret") == []
    expected = {
        "VTS_DATABASE_URL": {"name": "vts-db", "key": "database-url"},
        "VTS_REDIS_URL": {"name": "vts-redis", "key": "url"},
        "VTS_ADMIN_KEY": {"name": "vts-auth", "key": "admin-key"},
    }
    assert _secret_refs(docs, "Deployment", FULLNAME) == expected
    migrate = _secret_refs(docs, "Job", f"{FULLNAME}-migrate")
    assert migrate == {"VTS_DATABASE_URL": expected["VTS_DATABASE_URL"]}


def test_chart_config_map_carries_the_vts_settings(render: Render) -> None:
    docs = render(
        "config.concurrency=64",
        "config.simSeed=7",
        "config.logLevel=DEBUG",
        "config.retention=30d",
    )
    data = one(docs, "ConfigMap", FULLNAME)["data"]
    assert data == {
        "VTS_HOST": "0.0.0.0",
        "VTS_AUTH": "keys",
        "VTS_PORT": "8000",
        "VTS_PROCESSOR": "simulated",
        "VTS_CONCURRENCY": "64",
        "VTS_MAX_ATTEMPTS": "3",
        "VTS_MAX_LEASE_LOSSES": "5",
        "VTS_LEASE_SECONDS": "30",
        "VTS_PROGRESS_INTERVAL": "0.1",
        "VTS_EVENT_LOOP": "auto",
        "VTS_SHUTDOWN_GRACE": "20",
        "VTS_RETENTION": "30d",
        "VTS_EVENT_RETENTION": "24h",
        "VTS_REQUEST_TIMEOUT": "10s",
        "VTS_KEEPALIVE_TIMEOUT": "75s",
        "VTS_MAX_CONNECTIONS": "10000",
        "VTS_ALLOW_PRIVATE_URLS": "false",
        "VTS_WEBHOOK_TIMEOUT": "10s",
        "VTS_WEBHOOK_RETRY_SCHEDULE": "5s,5m,30m,2h,5h,10h,10h",
        "VTS_WEBHOOK_ALLOW_PRIVATE": "false",
        "VTS_SIM_DURATION": "1-5",
        "VTS_SIM_ERROR_RATE": "0.1",
        "VTS_SIM_SEED": "7",
        "VTS_TENANT_MAX_ACTIVE_JOBS": "10000",
        "VTS_TENANT_REQUESTS_PER_SECOND": "0",
        "VTS_LOG_LEVEL": "DEBUG",
    }
    defaults = one(render(), "ConfigMap", FULLNAME)["data"]
    assert "VTS_SIM_SEED" not in defaults
    assert defaults["VTS_RETENTION"] == "0"
    assert load_settings(defaults).event_retention == 86400
    assert (
        load_settings(defaults).webhook_retry_schedule
        == Settings().webhook_retry_schedule
    )
    # Every vts setting, and the default processor's own, has its place: the
    # ConfigMap, or a Secret for the ones that may carry a credential (the URLs and
    # the keys).
    declared = setting_specs().values()
    secret = {spec.env for spec in declared if spec.sensitive}
    assert secret == {
        "VTS_DATABASE_URL",
        "VTS_REDIS_URL",
        "VTS_ADMIN_KEY",
        "VTS_METRICS_KEY",
    }
    simulated = specs(SimulatedSettings)
    assert defaults["VTS_PROCESSOR"] == "simulated"
    assert (
        set(env_names().values()) | {s.env for s in simulated.values()}
        == set(data) | secret
    )
    # The chart's defaults are vts's own, but where a container needs otherwise.
    chosen = {"VTS_HOST": "0.0.0.0", "VTS_AUTH": "keys"}
    assert {k: v for k, v in defaults.items() if k in chosen} == chosen
    for name, spec in setting_specs().items():
        if spec.env in defaults and spec.env not in chosen:
            in_chart = getattr(load_settings({spec.env: defaults[spec.env]}), name)
            assert in_chart == getattr(Settings(), name), spec.env
    for name, spec in simulated.items():
        if spec.env in defaults:
            in_chart = getattr(
                build(SimulatedSettings, {spec.env: defaults[spec.env]}), name
            )
            assert in_chart == getattr(SimulatedSettings(), name), spec.env
    assert load_settings(data).retention == 30 * 86400


def test_chart_sets_the_simulated_settings_only_for_that_processor(
    render: Render,
) -> None:
    docs = render("config.processor=whisper", "config.simSeed=7")
    data = one(docs, "ConfigMap", FULLNAME)["data"]
    assert data["VTS_PROCESSOR"] == "whisper"
    # vts would name each one in a warning as read by no one.
    assert not [name for name in data if name.startswith("VTS_SIM_")]
