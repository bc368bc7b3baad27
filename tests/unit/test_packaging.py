"""Each of the three distributions carries its license: an SPDX expression (PEP 639)
and the license text, shipped in the wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("folder", [".", "client", "operator"])
def test_the_distribution_declares_and_ships_its_license(folder: str) -> None:
    root = REPO / folder
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (root / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0, January 2004" in text
