"""Runtime: what every handler of one operator process shares, kept in kopf's memo."""

from __future__ import annotations

import dataclasses

import kopf
from translation_client import TranslationClient

from vts_operator.kube import StatusApi
from vts_operator.settings import OperatorConfig

MEMO_KEY = "vts"


@dataclasses.dataclass(frozen=True)
class Runtime:
    """One vts client and one Kubernetes API connection per process."""

    client: TranslationClient
    config: OperatorConfig
    kube: StatusApi
    following: set[str] = dataclasses.field(default_factory=set)
    """Resources (namespace/name) a daemon follows now: the liveness probe shows it."""


def runtime_of(memo: kopf.Memo) -> Runtime:
    runtime = memo.get(MEMO_KEY)
    if not isinstance(runtime, Runtime):
        raise RuntimeError("the vts operator's startup handler has not run")
    return runtime
