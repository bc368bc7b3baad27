"""Kubernetes conditions of a TranslationJob: made, found, merged. No I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

# Kubernetes condition reasons: CamelCase, starting with a letter.
_WORD = re.compile(r"[A-Za-z0-9]+")

Condition = dict[str, Any]


def condition(
    kind: str,
    true: bool,
    reason: str,
    message: str,
    *,
    previous: Sequence[Mapping[str, Any]],
    now: datetime,
    generation: int | None = None,
) -> Condition:
    """A condition; its lastTransitionTime is `now` only if its status flipped, its
    observedGeneration the resource's generation it was computed from."""
    status = "True" if true else "False"
    prior = find_condition(previous, kind)
    if prior is not None and prior.get("status") == status:
        since = prior.get("lastTransitionTime") or timestamp(now)
    else:
        since = timestamp(now)
    made: Condition = {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastTransitionTime": since,
    }
    if generation is not None:
        made["observedGeneration"] = generation
    return made


def find_condition(
    conditions: Sequence[Mapping[str, Any]], kind: str
) -> Mapping[str, Any] | None:
    return next((c for c in conditions if c.get("type") == kind), None)


def merge_conditions(
    made: Sequence[Condition], previous: Sequence[Mapping[str, Any]]
) -> list[Condition]:
    """`made` first; previous conditions of other types follow unchanged."""
    kinds = {c["type"] for c in made}
    return [*made, *(dict(c) for c in previous if c.get("type") not in kinds)]


def reason(code: str) -> str:
    """A condition reason from an error code: `asr-overloaded` -> `AsrOverloaded`."""
    words = _WORD.findall(code)
    camel = "".join(w[:1].upper() + w[1:] for w in words)
    if not camel:
        return "Unknown"
    return camel if camel[0].isalpha() else f"E{camel}"


def timestamp(now: datetime) -> str:
    """RFC 3339 in UTC, to the second, as Kubernetes writes times."""
    return now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
