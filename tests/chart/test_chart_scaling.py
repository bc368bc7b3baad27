"""Wiring between the chart's objects: selectors, rollouts, shutdown, scaling, exposure."""

from __future__ import annotations

from typing import Any

from chart._helm import (
    FULLNAME,
    NAMESPACE,
    SCENARIOS,
    Render,
    names,
    of_kind,
    one,
    selects,
)


def _pod_labels(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        doc["metadata"]["name"]: doc["spec"]["template"]["metadata"]["labels"]
        for doc in docs
        if doc["kind"] in ("Deployment", "StatefulSet", "Job")
    }


def test_chart_each_service_selects_exactly_its_own_pods(render: Render) -> None:
    docs = render()
    pods = _pod_labels(docs)
    expected = {
        FULLNAME: {FULLNAME},
        f"{FULLNAME}-postgresql": {f"{FULLNAME}-postgresql"},
        f"{FULLNAME}-postgresql-hl": {f"{FULLNAME}-postgresql"},
        f"{FULLNAME}-redis": {f"{FULLNAME}-redis"},
    }
    selected = {
        service["metadata"]["name"]: {
            name
            for name, labels in pods.items()
            if selects(service["spec"]["selector"], labels)
        }
        for service in of_kind(docs, "Service")
    }
    assert selected == expected
    vts = one(docs, "Service", FULLNAME)["spec"]
    assert vts["type"] == "ClusterIP"
    assert vts["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]


def test_chart_workload_selectors_match_their_pod_templates(render: Render) -> None:
    for doc in render():
        if doc["kind"] in ("Deployment", "StatefulSet"):
            selector = doc["spec"]["selector"]["matchLabels"]
            assert selects(selector, doc["spec"]["template"]["metadata"]["labels"])


def _checksum(docs: list[dict[str, Any]]) -> str:
    template = one(docs, "Deployment", FULLNAME)["spec"]["template"]
    return template["metadata"]["annotations"]["checksum/config"]


def test_chart_checksum_rolls_pods_when_config_or_secret_changes(
    render: Render,
) -> None:
    fixed = ("postgresql.auth.password=pw1", "redis.auth.password=pw2")
    base = _checksum(render(*fixed))
    assert (
        _checksum(render(*fixed)) == base
    )  # same values, same hash: no needless rollout
    assert _checksum(render(*fixed, "config.concurrency=32")) != base
    assert _checksum(render(*fixed, "shutdownGraceSeconds=60")) != base
    assert _checksum(render("postgresql.auth.password=pw3", fixed[1])) != base
    # The redis Deployment restarts with its password too.
    redis = one(render(*fixed), "Deployment", f"{FULLNAME}-redis")
    other = one(
        render(fixed[0], "redis.auth.password=pw4"), "Deployment", f"{FULLNAME}-redis"
    )
    annotation = "checksum/secret"
    assert (
        redis["spec"]["template"]["metadata"]["annotations"][annotation]
        != other["spec"]["template"]["metadata"]["annotations"][annotation]
    )


def test_chart_termination_grace_outlasts_prestop_and_drain(render: Render) -> None:
    for grace in ("20", "120"):
        docs = render(f"shutdownGraceSeconds={grace}")
        config = one(docs, "ConfigMap", FULLNAME)["data"]
        pod = one(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
        pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
        assert pre_stop[0] == "sleep"
        assert config["VTS_SHUTDOWN_GRACE"] == grace
        assert (
            pod["terminationGracePeriodSeconds"] == int(grace) + int(pre_stop[1]) + 10
        )


def test_chart_hpa_exists_only_when_enabled_and_then_owns_replicas(
    render: Render,
) -> None:
    plain = render()
    assert of_kind(plain, "HorizontalPodAutoscaler") == []
    assert one(plain, "Deployment", FULLNAME)["spec"]["replicas"] == 2
    assert (
        one(render("replicaCount=3"), "Deployment", FULLNAME)["spec"]["replicas"] == 3
    )

    scaled = render(*SCENARIOS["scaled-out"])
    assert "replicas" not in one(scaled, "Deployment", FULLNAME)["spec"]
    hpa = one(scaled, "HorizontalPodAutoscaler", FULLNAME)
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": FULLNAME,
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 10)
    targets = {
        m["resource"]["name"]: m["resource"]["target"] for m in hpa["spec"]["metrics"]
    }
    assert targets == {
        "cpu": {"type": "Utilization", "averageUtilization": 70},
        "memory": {"type": "Utilization", "averageUtilization": 80},
    }


def test_chart_pdb_exists_only_when_enabled_and_guards_vts_pods(render: Render) -> None:
    assert of_kind(render(), "PodDisruptionBudget") == []
    docs = render(*SCENARIOS["scaled-out"])
    pdb = one(docs, "PodDisruptionBudget", FULLNAME)
    assert pdb["spec"]["minAvailable"] == 1
    guarded = {
        n
        for n, labels in _pod_labels(docs).items()
        if selects(pdb["spec"]["selector"]["matchLabels"], labels)
    }
    assert guarded == {FULLNAME}


def test_chart_service_monitor_scrapes_metrics_of_the_vts_service(
    render: Render,
) -> None:
    assert of_kind(render(), "ServiceMonitor") == []
    docs = render(*SCENARIOS["service-monitor"])
    monitor = one(docs, "ServiceMonitor", FULLNAME)
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {
            "port": "http",
            "path": "/metrics",
            "interval": "30s",
            "scrapeTimeout": "10s",
            # the scenario protects /metrics (metrics.auth.enabled)
            "bearerTokenSecret": {"name": f"{FULLNAME}-auth", "key": "metrics-key"},
        }
    ]
    selector = monitor["spec"]["selector"]["matchLabels"]
    matched = {
        s["metadata"]["name"]
        for s in of_kind(docs, "Service")
        if selects(selector, s["metadata"]["labels"])
    }
    assert matched == {FULLNAME}
    ports = one(docs, "Service", FULLNAME)["spec"]["ports"]
    assert "http" in {p["name"] for p in ports}


def test_chart_ingress_exists_only_when_enabled_and_routes_to_the_service(
    render: Render,
) -> None:
    assert of_kind(render(), "Ingress") == []
    ingress = one(render(*SCENARIOS["ingress"]), "Ingress", FULLNAME)["spec"]
    assert ingress["ingressClassName"] == "nginx"
    assert ingress["tls"] == [{"hosts": ["vts.example.com"], "secretName": "vts-tls"}]
    (rule,) = ingress["rules"]
    assert rule["host"] == "vts.example.com"
    assert rule["http"]["paths"] == [
        {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": FULLNAME, "port": {"name": "http"}}},
        }
    ]


def test_chart_postgres_keeps_data_on_an_8gi_claim(render: Render) -> None:
    statefulset = one(render(), "StatefulSet", f"{FULLNAME}-postgresql")["spec"]
    (claim,) = statefulset["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["resources"]["requests"]["storage"] == "8Gi"
    assert (
        statefulset["template"]["spec"]["containers"][0]["image"]
        == "postgres:16-alpine"
    )
    ephemeral = one(
        render("postgresql.persistence.enabled=false"),
        "StatefulSet",
        f"{FULLNAME}-postgresql",
    )
    assert "volumeClaimTemplates" not in ephemeral["spec"]
    assert {"name": "data", "emptyDir": {}} in ephemeral["spec"]["template"]["spec"][
        "volumes"
    ]


def test_chart_redis_runs_with_a_password_by_default(render: Render) -> None:
    redis = one(render(), "Deployment", f"{FULLNAME}-redis")["spec"]["template"]["spec"]
    (container,) = redis["containers"]
    assert container["image"] == "redis:7-alpine"
    assert "--requirepass" in " ".join(container["command"])
    open_redis = one(
        render("redis.auth.enabled=false"), "Deployment", f"{FULLNAME}-redis"
    )
    assert "requirepass" not in str(open_redis)
    assert f"{FULLNAME}-redis" not in names(
        render("redis.auth.enabled=false"), "Secret"
    )


def test_chart_migrations_run_in_a_hook_job_that_waits_for_the_database(
    render: Render,
) -> None:
    job = one(render(), "Job", f"{FULLNAME}-migrate")
    hooks = job["metadata"]["annotations"]["helm.sh/hook"].split(",")
    assert set(hooks) == {
        "post-install",
        "pre-upgrade",
    }  # the in-chart database exists by then
    spec = job["spec"]["template"]["spec"]
    assert spec["containers"][0]["command"] == ["vts", "migrate"]
    assert spec["initContainers"][0]["name"] == "wait-for-database"
    assert spec["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1
    assert of_kind(render("migrations.enabled=false"), "Job") == []


def test_chart_helm_test_pod_checks_health_and_creates_no_job(render: Render) -> None:
    pod = one(render(), "Pod", f"{FULLNAME}-test")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    (container,) = pod["spec"]["containers"]
    assert {"name": "VTS", "value": f"http://{FULLNAME}:80"} in container["env"]
    script = container["command"][-1]
    assert '"$VTS/healthz"' in script and '"$VTS/readyz"' in script
    assert '"$VTS/jobs?limit=1"' in script
    # every test run would leave a job in the production database
    assert "--post-data" not in script and "/translate" not in script
    assert pod["spec"]["restartPolicy"] == "Never"
