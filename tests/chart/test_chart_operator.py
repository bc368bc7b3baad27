"""The operator's Deployment and least-privilege RBAC, and the TranslationJob CRD."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from _operator_rbac import granted, readme_permissions

from chart._helm import (
    CHART,
    FULLNAME,
    NAMESPACE,
    SCENARIOS,
    Render,
    names,
    of_kind,
    one,
)
from vts.api.urls import VIDEO_URL_PATTERN

OPERATOR = f"{FULLNAME}-operator"

# What `kopf run --standalone` needs for TranslationJobs, and nothing else: the
# operator README's Permissions table (integration/test_operator.py checks every
# request the operator makes against it).
EVERYWHERE, CLUSTER_ONLY = readme_permissions()


def _rules_granted(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    for rule in role["rules"]:
        # no resourceNames/nonResourceURLs, no wildcards
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        for part in ("apiGroups", "resources", "verbs"):
            assert "*" not in rule[part], rule
    return granted(role["rules"])


def test_chart_operator_cluster_role_grants_exactly_what_kopf_needs(
    render: Render,
) -> None:
    role = one(render(), "ClusterRole", OPERATOR)
    assert _rules_granted(role) == EVERYWHERE | CLUSTER_ONLY
    assert not any(verb in ("update", "get") for _, _, verb in EVERYWHERE)


def test_chart_operator_in_named_namespaces_gets_a_role_in_each_and_no_cluster_role(
    render: Render,
) -> None:
    docs = render("operator.watchNamespaces={team-a,team-b}")
    assert of_kind(docs, "ClusterRole") == []
    assert of_kind(docs, "ClusterRoleBinding") == []
    roles = {r["metadata"]["namespace"]: r for r in of_kind(docs, "Role")}
    bindings = {b["metadata"]["namespace"]: b for b in of_kind(docs, "RoleBinding")}
    assert set(roles) == set(bindings) == {"team-a", "team-b"}
    for namespace, role in roles.items():
        assert role["metadata"]["name"] == OPERATOR
        assert _rules_granted(role) == EVERYWHERE
        assert bindings[namespace]["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": OPERATOR,
        }
        assert bindings[namespace]["subjects"] == [
            {"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}
        ]
    (container,) = one(docs, "Deployment", OPERATOR)["spec"]["template"]["spec"][
        "containers"
    ]
    scope = [a for a in container["command"] if "namespace" in a]
    assert scope == ["--namespace=team-a", "--namespace=team-b"]
    assert {"name": "VTS_OPERATOR_NAMESPACES", "value": "team-a,team-b"} in container[
        "env"
    ]


def test_chart_operator_liveness_probe_asks_kopfs_liveness_endpoint(
    render: Render,
) -> None:
    (container,) = one(render(), "Deployment", OPERATOR)["spec"]["template"]["spec"][
        "containers"
    ]
    (endpoint,) = [a for a in container["command"] if a.startswith("--liveness=")]
    url = urlsplit(endpoint.split("=", 1)[1])
    probe = container["livenessProbe"]["httpGet"]
    (port,) = [p for p in container["ports"] if p["name"] == probe["port"]]
    assert (probe["path"], port["containerPort"]) == (url.path, url.port)
    assert url.hostname == "0.0.0.0"  # the kubelet probes the pod's IP


def test_chart_operator_role_is_bound_to_its_service_account_only(
    render: Render,
) -> None:
    docs = render()
    binding = one(docs, "ClusterRoleBinding", OPERATOR)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": OPERATOR,
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": OPERATOR, "namespace": NAMESPACE}
    ]
    assert OPERATOR in names(docs, "ServiceAccount")
    # vts itself never calls the API: no token in its pods, no Role for it.
    vts = one(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]
    assert vts["automountServiceAccountToken"] is False
    assert of_kind(docs, "Role") == [] and of_kind(docs, "RoleBinding") == []


def test_chart_operator_runs_kopf_standalone_against_the_vts_service(
    render: Render,
) -> None:
    docs = render()
    deployment = one(docs, "Deployment", OPERATOR)
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == OPERATOR
    (container,) = pod["containers"]
    assert (
        container["image"]
        == one(docs, "Deployment", FULLNAME)["spec"]["template"]["spec"]["containers"][
            0
        ]["image"]
    )
    assert container["command"] == [
        "kopf",
        "run",
        "-m",
        "vts_operator.handlers",
        "--all-namespaces",
        "--standalone",
        "--liveness=http://0.0.0.0:8080/healthz",
    ]
    assert container["livenessProbe"]["httpGet"] == {
        "path": "/healthz",
        "port": "health",
    }
    service = one(docs, "Service", FULLNAME)
    assert container["env"] == [
        {
            "name": "VTS_URL",
            "value": f"http://{FULLNAME}:{service['spec']['ports'][0]['port']}",
        },
        {
            "name": "VTS_API_KEY",
            "valueFrom": {
                "secretKeyRef": {"name": f"{FULLNAME}-auth", "key": "admin-key"}
            },
        },
    ]


def test_chart_operator_off_leaves_out_its_objects_but_not_the_crd(
    render: Render,
) -> None:
    docs = render(*SCENARIOS["operator-off"])
    assert [d for d in docs if d["metadata"]["name"] == OPERATOR] == []
    assert (
        of_kind(docs, "ClusterRole") == [] and of_kind(docs, "ClusterRoleBinding") == []
    )
    assert names(docs, "CustomResourceDefinition") == {"translationjobs.vts.dev"}


def _crd() -> dict[str, Any]:
    return yaml.safe_load((CHART / "crds" / "translationjobs.yaml").read_text())


def _version() -> dict[str, Any]:
    (version,) = _crd()["spec"]["versions"]
    return version


def test_crd_names_a_namespaced_translationjob_kind() -> None:
    crd = _crd()
    assert crd["metadata"]["name"] == "translationjobs.vts.dev"
    assert crd["spec"]["group"] == "vts.dev"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"] == {
        "kind": "TranslationJob",
        "listKind": "TranslationJobList",
        "plural": "translationjobs",
        "singular": "translationjob",
        "shortNames": ["tj"],
    }
    version = _version()
    assert (version["name"], version["served"], version["storage"]) == (
        "v1alpha1",
        True,
        True,
    )


def test_crd_spec_requires_its_fields_and_is_immutable() -> None:
    spec = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert set(spec["required"]) == {"sourceLanguage", "targetLanguage", "videoUrl"}
    assert {"rule": "self == oldSelf", "message": "spec is immutable"} in spec[
        "x-kubernetes-validations"
    ]
    assert (
        spec["properties"]["metadata"]["x-kubernetes-preserve-unknown-fields"] is True
    )


def test_crd_has_a_status_subresource_and_printer_columns() -> None:
    version = _version()
    assert version["subresources"] == {"status": {}}
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"]
    assert status["phase"]["enum"] == [
        "Pending",
        "Processing",
        "Completed",
        "Failed",
        "Cancelled",
    ]
    assert {
        "progress",
        "stage",
        "jobId",
        "startedAt",
        "completedAt",
        "result",
        "error",
    } <= set(status)
    assert {"observedGeneration", "conditions"} <= set(status)
    assert set(status["error"]["properties"]) == {"code", "message", "retryable"}
    columns = {c["name"]: c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "Source": ".spec.sourceLanguage",
        "Target": ".spec.targetLanguage",
        "Phase": ".status.phase",
        "Progress": ".status.progress",
        "Job": ".status.jobId",
        "Age": ".metadata.creationTimestamp",
    }


def test_crd_checks_video_urls_as_vts_does() -> None:
    """kubectl apply refuses what POST /translate would: no Failed job for a typo."""
    spec = _version()["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["videoUrl"]["pattern"] == VIDEO_URL_PATTERN


GOOD_JOB = {
    "apiVersion": "vts.dev/v1alpha1",
    "kind": "TranslationJob",
    "metadata": {"name": "hello"},
    "spec": {
        "sourceLanguage": "en",
        "targetLanguage": "pt-BR",
        "videoUrl": "https://example.com/video.mp4",
        "metadata": {"anything": {"nested": [1, 2]}},
    },
    "status": {
        "phase": "Processing",
        "progress": 45,
        "stage": "translating",
        "jobId": "550e8400-e29b-41d4-a716-446655440000",
        "error": {"code": "timeout", "message": "slow", "retryable": True},
        "conditions": [{"type": "Ready", "status": "False", "reason": "Processing"}],
    },
}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "sourceLanguage"), "english!"),
        (("spec", "targetLanguage"), "e"),
        (("spec", "videoUrl"), "ftp://example.com/video.mp4"),
        (("spec", "videoUrl"), "https://example.com/my video.mp4"),
        (("spec", "videoUrl"), None),
        (("status", "phase"), "Running"),
        (("status", "progress"), 101),
    ],
)
def test_crd_schema_rejects_bad_translation_jobs(
    path: tuple[str, str], value: object
) -> None:
    schema = _version()["schema"]["openAPIV3Schema"]
    jsonschema.validate(GOOD_JOB, schema)  # the good one passes
    bad = copy.deepcopy(GOOD_JOB)
    if value is None:
        del bad[path[0]][path[1]]
    else:
        bad[path[0]][path[1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)
