"""The alerting rules (charts/vts/files/alerts.yaml): valid, unit-tested with promtool,
documented, and shipped verbatim in the chart's PrometheusRule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from _prometheus import ALERT_RULES, run_promtool

from chart._helm import FULLNAME, REPO, SCENARIOS, Render, of_kind, one

UNIT_TESTS = Path(__file__).with_name("alerts_test.yaml")
# info: worth telling someone (a tenant), nothing to fix in vts.
SEVERITIES = {"info", "warning", "critical"}


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _alert_names() -> list[str]:
    return [rule["alert"] for rule in _rules()]


@pytest.mark.services
def test_chart_alert_rules_pass_promtool_check(promtool: str) -> None:
    done = run_promtool("check", "rules", str(ALERT_RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in done.stdout


@pytest.mark.services
def test_chart_alert_rules_pass_their_promtool_unit_tests(
    promtool: str, tmp_path: Path
) -> None:
    """alerts_test.yaml against the rules, each summary kept (promtool compares every
    annotation, and the summaries carry the labels and values worth checking)."""
    document = yaml.safe_load(ALERT_RULES.read_text())
    for group in document["groups"]:
        for rule in group["rules"]:
            rule["annotations"] = {"summary": rule["annotations"]["summary"]}
    (tmp_path / "alerts.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    (tmp_path / UNIT_TESTS.name).write_text(UNIT_TESTS.read_text())
    done = run_promtool("test", "rules", str(tmp_path / UNIT_TESTS.name))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


def test_chart_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    tests = yaml.safe_load(UNIT_TESTS.read_text())
    assert tests["rule_files"] == ["alerts.yaml"]
    fires, quiet = set(), set()
    for case in tests["tests"]:
        for check in case["alert_rule_test"]:
            (fires if check["exp_alerts"] else quiet).add(check["alertname"])
    assert fires == set(_alert_names())
    assert quiet == set(_alert_names())


def test_chart_every_alert_says_how_bad_it_is_and_what_to_do() -> None:
    names = _alert_names()
    assert len(names) == len(set(names))
    assert {
        "VtsBackgroundLoopCrashed",
        "VtsDeadLettersGrowing",
        "VtsHighServerErrorRate",
        "VtsStoreUnavailable",
        "VtsJobsStuck",
        "VtsBrokerErrors",
        "VtsLeasesLost",
        "VtsWebhookDeliveriesFailing",
        "VtsWebhookOutboxStuck",
        "VtsWebhookEndpointDisabled",
    } <= set(names)
    monitoring = _readme_section("Monitoring")
    for rule in _rules():
        name = rule["alert"]
        assert re.fullmatch(r"[0-9]+[smh]", rule["for"]), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert set(rule["annotations"]) == {"summary", "description"}, name
        assert len(rule["annotations"]["description"]) > 150, name  # says what to do
        assert f"`{name}`" in monitoring, f"README's Monitoring section: {name}"


def _readme_section(title: str) -> str:
    text = (REPO / "README.md").read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_chart_prometheus_rule_renders_only_when_enabled(render: Render) -> None:
    assert of_kind(render(), "PrometheusRule") == []
    assert (
        of_kind(render("metrics.serviceMonitor.enabled=true"), "PrometheusRule") == []
    )
    docs = render(*SCENARIOS["service-monitor"])
    rule = one(docs, "PrometheusRule", FULLNAME)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["labels"]["release"] == "prometheus"
    assert rule["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"


def test_chart_prometheus_rule_carries_exactly_the_rules_file(render: Render) -> None:
    rule = one(render(*SCENARIOS["service-monitor"]), "PrometheusRule", FULLNAME)
    assert rule["spec"] == yaml.safe_load(ALERT_RULES.read_text())
    # Helm did not template the file: Prometheus's own templates reach Prometheus.
    summaries = [
        r["annotations"]["summary"] for r in rule["spec"]["groups"][0]["rules"]
    ]
    assert any("{{ $labels.instance }}" in summary for summary in summaries)


@pytest.mark.services
def test_chart_prometheus_rule_spec_is_a_valid_rules_file(
    render: Render, promtool: str, tmp_path: Path
) -> None:
    rule = one(render(*SCENARIOS["service-monitor"]), "PrometheusRule", FULLNAME)
    rendered = tmp_path / "rendered.yaml"
    rendered.write_text(yaml.safe_dump(rule["spec"]))
    done = run_promtool("check", "rules", str(rendered))
    assert done.returncode == 0, done.stdout + done.stderr
