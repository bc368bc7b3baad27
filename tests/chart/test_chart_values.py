"""The chart lints clean, documents every value and refuses bad or missing ones."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from chart._helm import CHART, REPO, RenderError, load, template
from chart._helm import helm as run_helm

# A mapping key, possibly the first key of a list item.
_KEY = re.compile(r"^\s*(- )?[A-Za-z][A-Za-z0-9_]*:")


def test_chart_lints_clean_in_strict_mode(helm: Path) -> None:
    done = run_helm(helm, "lint", "--strict", str(CHART))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[WARNING]" not in done.stdout and "[ERROR]" not in done.stdout


def test_chart_values_document_every_key() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        if not _KEY.match(line):
            continue
        previous = next((p for p in reversed(lines[:number]) if p.strip()), "")
        if not previous.strip().startswith("#"):
            undocumented.append(f"values.yaml:{number + 1}: {line.strip()}")
    assert undocumented == []


@pytest.mark.parametrize(
    ("sets", "set_string", "culprit"),
    [
        (("replicaCount=-1",), (), "replicaCount"),
        ((), ("replicaCount=three",), "replicaCount"),
        (("config.concurrency=0",), (), "concurrency"),
        (("config.logLevel=LOUD",), (), "logLevel"),
        (("service.type=Internal",), (), "type"),
        (("postgresql.persistence.size=lots",), (), "size"),
        (("replicaCuont=3",), (), "replicaCuont"),
        (("operator.watchNamespaces={Team_A}",), (), "watchNamespaces"),
        (("networkPolicy.operatorEgress.apiServer.ports={70000}",), (), "ports"),
        (("networkPolicy.operatorEgress.apiServer.cidrs={10.0.0.1}",), (), "cidrs"),
        ((), ("networkPolicy.enabled=maybe",), "enabled"),
        (("postgresql.auth.existingSecret=Not_A_Name",), (), "existingSecret"),
        (("redis.nodeSelector.disk=1",), (), "disk"),
        (("postgresql.tolerations=oops",), (), "tolerations"),
    ],
)
def test_chart_values_schema_rejects_bad_values(
    helm: Path, sets: tuple[str, ...], set_string: tuple[str, ...], culprit: str
) -> None:
    with pytest.raises(RenderError, match="schema") as failure:
        template(helm, *sets, set_string=set_string)
    assert culprit in str(failure.value)


@pytest.mark.parametrize(
    ("sets", "message"),
    [
        (("postgresql.enabled=false",), "vts needs a database"),
        (("redis.enabled=false",), "vts needs a Redis"),
    ],
)
def test_chart_refuses_to_render_without_a_database_or_redis(
    helm: Path, sets: tuple[str, ...], message: str
) -> None:
    with pytest.raises(RenderError, match=message):
        template(helm, *sets)


def test_chart_readme_documents_upgrading_the_crd() -> None:
    readme = (CHART / "README.md").read_text()
    assert "kubectl apply -f charts/vts/crds/" in readme
    assert "helm install vts charts/vts" in readme


def test_chart_names_fit_kubernetes_limits_with_a_long_release_name(helm: Path) -> None:
    release = "long-release-" + "x" * 40  # 53: the longest name helm accepts
    docs = load(template(helm, release=release))
    for doc in docs:
        name = doc["metadata"]["name"]
        assert len(name) <= 63 and not name.endswith("-"), name
        if doc["kind"] == "StatefulSet":
            assert len(name) <= 52, name  # + "-" + revision hash must fit a label value
    services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
    assert len(services) == 4  # still four distinct Services (one headless)


def test_chart_metadata_is_what_a_catalogue_expects() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["home"].startswith("https://")
    assert chart["sources"] and all(s.startswith("https://") for s in chart["sources"])
    assert chart["maintainers"] and all(m["name"] for m in chart["maintainers"])
    notes = chart["annotations"]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert notes["artifacthub.io/license"] == project["license"]
    assert notes["artifacthub.io/operator"] == "true"
    crds = [yaml.safe_load(p.read_text()) for p in (CHART / "crds").glob("*.yaml")]
    declared = yaml.safe_load(notes["artifacthub.io/crds"])
    assert {(c["kind"], c["name"], c["version"]) for c in declared} == {
        (crd["spec"]["names"]["kind"], crd["metadata"]["name"], version["name"])
        for crd in crds
        for version in crd["spec"]["versions"]
    }
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    images = {i["image"] for i in yaml.safe_load(notes["artifacthub.io/images"])}
    assert images == {
        f"{values['image']['repository']}:{chart['appVersion']}",
        *(
            f"{values[c]['image']['repository']}:{values[c]['image']['tag']}"
            for c in ("postgresql", "redis")
        ),
        values["tests"]["image"],
    }
    for link in yaml.safe_load(notes["artifacthub.io/links"]):
        assert link["url"].startswith("https://")


def test_the_values_schema_names_each_property_once() -> None:
    """A key written twice in JSON silently keeps the last copy (which once dropped
    the tenant quota maxima): refuse any repeated key."""

    def once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [key for key, _ in pairs]
        repeated = sorted({key for key in keys if keys.count(key) > 1})
        assert not repeated, f"values.schema.json repeats {repeated}"
        return dict(pairs)

    json.loads((CHART / "values.schema.json").read_text(), object_pairs_hook=once)
