"""The operator's permissions as its README lists them: the one list the chart's
RBAC and the requests the operator really makes are both held to."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

README = Path(__file__).resolve().parents[1] / "operator" / "README.md"

Permission = tuple[str, str, str]
"""(API group, resource, verb); the core group is ""."""

_ROW = re.compile(
    r"^\| (`[^|]*`|core \(`\"\"`\)) \| `([^`]+)` \| ([^|]+) \| ([^|]+) \|$"
)


def readme_permissions() -> tuple[set[Permission], set[Permission]]:
    """(everywhere, cluster-wide only): the rows of the README's Permissions table."""
    section = README.read_text().split("### Permissions", 1)[1].split("\n## ", 1)[0]
    everywhere: set[Permission] = set()
    cluster_only: set[Permission] = set()
    for line in section.splitlines():
        row = _ROW.match(line.strip())
        if row is None:
            continue
        group = "" if row[1].startswith("core") else row[1].strip("`")
        verbs = re.findall(r"`(\w+)`", row[3])
        into = cluster_only if "cluster-wide only" in row[4] else everywhere
        into |= {(group, row[2], verb) for verb in verbs}
    return everywhere, cluster_only


def granted(rules: Iterable[dict[str, Any]]) -> set[Permission]:
    """What the rules of a Role or ClusterRole allow (no wildcards expected)."""
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}


def used(requests: Iterable[Any]) -> set[Permission]:
    """The permissions a kmock request log needed, leaving out the test's own
    requests (sent with `Connection: close`) and discovery (no resource plural)."""
    found: set[Permission] = set()
    for request in requests:
        if request.headers.get("Connection", "").lower() == "close":
            continue
        if request.resource is None or not request.resource.plural:
            continue
        method = str(getattr(request.method, "value", request.method)).upper()
        if method == "GET":
            action = str(getattr(request.action, "value", request.action)).lower()
            verb = {"watch": "watch", "list": "list"}.get(action, "get")
        else:
            verb = _VERBS[method]
        resource = request.resource.plural
        if request.subresource:
            resource = f"{resource}/{request.subresource}"
        found.add((request.resource.group or "", resource, verb))
    return found
