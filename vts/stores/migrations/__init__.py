"""Versioned schema migrations, one folder per backend: NNNN_verb_noun.sql.

What to apply and in which statements is decided here, once for both stores; each
store only runs the plan in one transaction of its own driver and records each
name in `schema_migrations` (RECORD_SQL), so a migration is applied exactly once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection
from importlib.resources import files
from typing import NamedTuple

BACKENDS = ("sqlite", "postgresql")
SCHEMA_TABLE_SQL = {
    "sqlite": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
    "postgresql": "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
}
APPLIED_SQL = "SELECT name FROM schema_migrations"
RECORD_SQL = {
    "sqlite": "INSERT INTO schema_migrations VALUES (?, ?)",
    "postgresql": "INSERT INTO schema_migrations (name) VALUES ($1)",
}


class Migration(NamedTuple):
    """One script: its name (the file's, without .sql) and its statements, each
    to be run on its own (a driver may run only one statement per call)."""

    name: str
    statements: list[str]


def load(backend: str) -> list[Migration]:
    """Every migration of `backend`, in order."""
    if backend not in BACKENDS:
        raise ValueError(f"no migrations for {backend!r}: one of {BACKENDS}")
    folder = files(__name__).joinpath(backend)
    scripts = sorted(
        (p for p in folder.iterdir() if p.name.endswith(".sql")), key=lambda p: p.name
    )
    return [
        Migration(p.name.removesuffix(".sql"), statements(p.read_text()))
        for p in scripts
    ]


def pending(backend: str, applied: Collection[str]) -> list[Migration]:
    """The migrations of `backend` not among `applied`, in order."""
    return [m for m in load(backend) if m.name not in applied]


def statements(sql: str) -> list[str]:
    """The statements of a script, split where SQL ends one: a `;` inside a string
    literal, a quoted name or a comment does not end a statement (the grammar
    SQLite's `complete_statement` knows; the scripts keep to what both backends
    share: no dollar-quoted bodies)."""
    found: list[str] = []
    current = ""
    for line in sql.splitlines(keepends=True):
        current += line
        if sqlite3.complete_statement(current):
            if _has_code(current):
                found.append(current.strip())
            current = ""
    if _has_code(current):
        raise ValueError(f"a migration ends inside a statement: {current.strip()!r}")
    return found


def _has_code(sql: str) -> bool:
    """Whether `sql` holds more than whitespace, `;` and `--` comments."""
    for line in sql.splitlines():
        code = line.split("--", 1)[0].strip().strip(";").strip()
        if code:
            return True
    return False
