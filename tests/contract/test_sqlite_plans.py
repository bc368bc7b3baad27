"""SQLite's plans for the queries that pick jobs by state: each walks its own index in
order, never sorting every job in that state (no ANALYZE statistics to guide it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from _support import opened_store

from vts.config import Settings
from vts.stores.sqlite_events import PURGE_EVENTS_SQL, events_sql
from vts.stores.sqlite_keys import ACTIVE_JOBS_SQL
from vts.stores.sqlite_reads import (
    DEAD_LETTERS_SQL,
    EXPIRED_SQL,
    NEXT_DUE_SQL,
    TENANT_COUNTS_SQL,
    TENANT_DEAD_LETTERS_SQL,
)
from vts.stores.sqlite_writes import (
    PENDING_TENANTS_SQL,
    PURGE_SQL,
    TENANT_DUE_SQL,
)


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (PENDING_TENANTS_SQL, (), "jobs_tenant_due"),
        (TENANT_DUE_SQL, ("acme", 1.0, 64), "jobs_tenant_due"),
        (ACTIVE_JOBS_SQL, ("acme",), "jobs_tenant_status"),
        (NEXT_DUE_SQL, (), "jobs_due"),
        (EXPIRED_SQL, (1.0, 500), "jobs_leases"),
        (PURGE_SQL, (1.0, 500), "jobs_finished"),
        (DEAD_LETTERS_SQL, (100,), "jobs_dead"),
        (TENANT_DEAD_LETTERS_SQL, ("acme", 100), "jobs_tenant_dead"),
        # A tenant's page of GET /jobs, as SqliteJobStore.list_jobs words it.
        (
            "SELECT seq, body FROM jobs WHERE tenant = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT ?",
            ("acme", 10**9, 51),
            "jobs_tenant",
        ),
        (
            "SELECT seq, body FROM jobs WHERE tenant = ? AND status = ? AND seq < ?"
            " ORDER BY seq DESC LIMIT ?",
            ("acme", "failed", 10**9, 51),
            "jobs_tenant_status",
        ),
        (TENANT_COUNTS_SQL, ("acme",), "jobs_tenant_status"),
        # A tenant's event stream after its cursor, also narrowed to jobs.
        (events_sql("acme", None), (0, "acme", 500), "job_events_tenant"),
        (
            events_sql("acme", ["a", "b"]),
            (0, "acme", "a", "b", 500),
            "job_events_tenant",
        ),
    ],
    ids=[
        "claim_tenants",
        "claim_tenant_queue",
        "tenant_active_jobs",
        "next_due",
        "expired",
        "purge",
        "dead_letters",
        "tenant_dead_letters",
        "tenant_jobs",
        "tenant_jobs_by_status",
        "tenant_counts",
        "tenant_events",
        "tenant_job_events",
    ],
)
async def test_picking_jobs_walks_an_index_and_sorts_nothing(
    tmp_path: Path, sql: str, params: tuple[object, ...], index: str
) -> None:
    db = tmp_path / "plans.db"
    async with opened_store(Settings(database_url=f"sqlite:///{db}")):
        pass  # migrated, as a server leaves it
    with sqlite3.connect(db) as conn:
        plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    uses = (f"USING INDEX {index}", f"USING COVERING INDEX {index}")
    assert any(use in step for step in plan for use in uses), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan


async def test_pruning_events_reads_only_the_oldest_rows(tmp_path: Path) -> None:
    """The sweeper finds what to prune from the head of the log (the rowid is the
    seq), so a sweep with nothing to delete reads `limit` rows, not the table."""
    db = tmp_path / "plans.db"
    async with opened_store(Settings(database_url=f"sqlite:///{db}")):
        pass
    with sqlite3.connect(db) as conn:
        plan = [
            row[3]
            for row in conn.execute(
                f"EXPLAIN QUERY PLAN {PURGE_EVENTS_SQL}", {"limit": 500, "before": 1.0}
            )
        ]
    assert any(step.startswith("SCAN job_events") for step in plan), plan
    log = [step for step in plan if "job_events" in step]
    assert not any("TEMP B-TREE" in step or "INDEX" in step for step in log), plan
    assert not any("TEMP B-TREE" in step for step in plan), plan
