"""Migration scripts are split into statements where SQL ends one, not at every `;`."""

from __future__ import annotations

import pytest

from vts.stores import migrations


def test_a_semicolon_in_a_literal_a_name_or_a_comment_ends_no_statement() -> None:
    script = """
-- the first; a comment
CREATE TABLE "odd;name" (note TEXT DEFAULT 'a;b');
INSERT INTO "odd;name" VALUES ('it''s; fine'); -- trailing; comment
/* a block; comment */ CREATE INDEX i ON "odd;name" (note);
"""
    found = migrations.statements(script)
    assert len(found) == 3
    assert found[0].endswith("""CREATE TABLE "odd;name" (note TEXT DEFAULT 'a;b');""")
    # A comment after a statement's end, on its line, stays with that statement.
    assert found[1] == (
        "INSERT INTO \"odd;name\" VALUES ('it''s; fine'); -- trailing; comment"
    )
    assert found[2] == """/* a block; comment */ CREATE INDEX i ON "odd;name" (note);"""


def test_comments_and_blank_lines_alone_are_no_statement() -> None:
    assert migrations.statements("-- nothing here\n\n;\n-- still nothing\n") == []


def test_a_script_that_ends_inside_a_statement_is_refused() -> None:
    with pytest.raises(ValueError, match="ends inside a statement"):
        migrations.statements("CREATE TABLE t (a INT);\nCREATE TABLE u (b INT)\n")


@pytest.mark.parametrize("backend", migrations.BACKENDS)
def test_every_shipped_script_splits_into_whole_statements(backend: str) -> None:
    for migration in migrations.load(backend):
        assert migration.statements, migration.name
        for statement in migration.statements:
            assert statement.rstrip().endswith(";"), (migration.name, statement)


def test_pending_leaves_out_what_was_applied() -> None:
    names = [m.name for m in migrations.load("sqlite")]
    assert [m.name for m in migrations.pending("sqlite", names[:2])] == names[2:]
    with pytest.raises(ValueError, match="no migrations for 'mysql'"):
        migrations.load("mysql")
