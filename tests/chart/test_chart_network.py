"""The chart's NetworkPolicies, judged by what they let each of the release's pods
(and a stranger's pod in the same namespace) reach."""

from __future__ import annotations

from typing import Any

from chart._helm import FULLNAME, Render, of_kind, selects

STRANGER = "Pod/stranger"
"""Another application's pod in the release's namespace."""


def _pods(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """kind/name -> pod labels of everything that runs pods, plus the stranger."""
    pods = {STRANGER: {"app.kubernetes.io/name": "other"}}
    for doc in docs:
        label = f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] == "Pod":
            pods[label] = doc["metadata"]["labels"]
        elif doc["kind"] in ("Deployment", "StatefulSet", "Job"):
            pods[label] = doc["spec"]["template"]["metadata"]["labels"]
    return pods


def _port_allowed(ports: list[dict[str, Any]] | None, port: int, proto: str) -> bool:
    return not ports or any(
        p.get("port") == port and p.get("protocol", "TCP") == proto for p in ports
    )


def _peer_allowed(peers: list[dict[str, Any]] | None, labels: dict[str, str]) -> bool:
    """Same-namespace pods only: a podSelector peer, or no peers at all (anyone)."""
    return not peers or any(
        "podSelector" in peer
        and selects(peer["podSelector"].get("matchLabels", {}), labels)
        for peer in peers
    )


def reaches(
    docs: list[dict[str, Any]], source: str, target: str, port: int, proto: str = "TCP"
) -> bool:
    """May `source` open a connection to `target`'s `port` under the policies?"""
    pods = _pods(docs)
    policies = of_kind(docs, "NetworkPolicy")
    outbound = [
        p
        for p in policies
        if "Egress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"]["matchLabels"], pods[source])
    ]
    inbound = [
        p
        for p in policies
        if "Ingress" in p["spec"]["policyTypes"]
        and selects(p["spec"]["podSelector"]["matchLabels"], pods[target])
    ]
    leaves = not outbound or any(
        _port_allowed(rule.get("ports"), port, proto)
        and _peer_allowed(rule.get("to"), pods[target])
        for p in outbound
        for rule in p["spec"].get("egress", [])
    )
    enters = not inbound or any(
        _port_allowed(rule.get("ports"), port, proto)
        and _peer_allowed(rule.get("from"), pods[source])
        for p in inbound
        for rule in p["spec"].get("ingress", [])
    )
    return leaves and enters


def clients(docs: list[dict[str, Any]], target: str, port: int) -> set[str]:
    return {s for s in _pods(docs) if s != target and reaches(docs, s, target, port)}


VTS = f"Deployment/{FULLNAME}"
MIGRATE = f"Job/{FULLNAME}-migrate"
POSTGRES = f"StatefulSet/{FULLNAME}-postgresql"
REDIS = f"Deployment/{FULLNAME}-redis"
OPERATOR = f"Deployment/{FULLNAME}-operator"
TEST_POD = f"Pod/{FULLNAME}-test"


def test_chart_network_policies_are_on_by_default_and_close_the_datastores(
    render: Render,
) -> None:
    docs = render()
    assert clients(docs, POSTGRES, 5432) == {VTS, MIGRATE}
    assert clients(docs, REDIS, 6379) == {VTS}
    assert not reaches(docs, STRANGER, POSTGRES, 5432)
    assert not reaches(docs, OPERATOR, REDIS, 6379)


def test_chart_network_policies_keep_vts_reachable_on_its_port_only(
    render: Render,
) -> None:
    docs = render()
    everyone = set(_pods(docs)) - {VTS}
    assert clients(docs, VTS, 8000) == everyone  # the stranger and helm test too
    assert clients(docs, VTS, 5432) == set()
    moved = render("containerPort=9000")
    assert reaches(moved, STRANGER, VTS, 9000) and not reaches(
        moved, STRANGER, VTS, 8000
    )


def test_chart_operator_takes_only_its_probe_and_may_reach_vts_and_the_api_server(
    render: Render,
) -> None:
    docs = render()
    assert clients(docs, OPERATOR, 8080) == set(_pods(docs)) - {OPERATOR}
    assert clients(docs, OPERATOR, 8000) == set()
    assert reaches(docs, OPERATOR, VTS, 8000)  # egress is left alone by default
    assert reaches(docs, OPERATOR, POSTGRES, 5432) is False  # Postgres says no

    limited = render(
        "networkPolicy.operatorEgress.enabled=true",
        "networkPolicy.operatorEgress.apiServer.cidrs[0]=10.0.0.1/32",
    )
    assert reaches(limited, OPERATOR, VTS, 8000)
    assert not reaches(limited, OPERATOR, REDIS, 6379)  # Redis's port: not allowed out
    assert not reaches(limited, OPERATOR, TEST_POD, 8080)
    (policy,) = [
        p
        for p in of_kind(limited, "NetworkPolicy")
        if p["metadata"]["name"] == f"{FULLNAME}-operator"
    ]
    rules = policy["spec"]["egress"]
    api = [r for r in rules if {"ipBlock": {"cidr": "10.0.0.1/32"}} in r.get("to", [])]
    assert [p["port"] for p in api[0]["ports"]] == [443, 6443]
    assert any(_port_allowed(r["ports"], 53, "UDP") and "to" not in r for r in rules)


def test_chart_network_policies_follow_what_is_deployed(render: Render) -> None:
    assert of_kind(render("networkPolicy.enabled=false"), "NetworkPolicy") == []
    external = render(
        "postgresql.enabled=false",
        "redis.enabled=false",
        "operator.enabled=false",
        "externalDatabase.url=postgresql://vts:pw@db.example.com:5432/vts",
        "externalRedis.url=redis://redis.example.com:6379/0",
    )
    assert {p["metadata"]["name"] for p in of_kind(external, "NetworkPolicy")} == {
        FULLNAME
    }
