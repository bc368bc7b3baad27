"""Versioned schema migrations, one folder per backend: NNNN_verb_noun.sql."""

from __future__ import annotations

from importlib.resources import files


def load(backend: str) -> list[tuple[str, str]]:
    """(name, sql) of every migration of `backend`, in order."""
    folder = files(__name__).joinpath(backend)
    scripts = [p for p in folder.iterdir() if p.name.endswith(".sql")]
    return [
        (p.name.removesuffix(".sql"), p.read_text())
        for p in sorted(scripts, key=lambda p: p.name)
    ]
