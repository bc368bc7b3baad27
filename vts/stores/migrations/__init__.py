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


def statements(sql: str) -> list[str]:
    """The statements of a migration script, comments dropped (for drivers that run
    one statement at a time)."""
    code = "\n".join(
        line for line in sql.splitlines() if not line.lstrip().startswith("--")
    )
    return [statement for statement in code.split(";") if statement.strip()]
