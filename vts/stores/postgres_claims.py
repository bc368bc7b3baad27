"""The Postgres claim query: fair across tenants, shared by replicas (SKIP LOCKED)."""

from __future__ import annotations

# The tenants with pending work (a loose index scan: one seek each), then the oldest
# due jobs of each, locked with SKIP LOCKED so replicas share the work, ranked by
# their place in their own tenant's queue: one tenant's backlog interleaves with the
# others' instead of starving them. Rows locked here but ranked past the limit stay
# locked only until this transaction commits.
#
# Each ORDER BY is jobs_tenant_due's order, and the tenant is a range, not an
# equality, so the planner cannot drop it as constant: no other index yields that
# order unsorted (jobs_due would walk a big tenant's backlog to find a small
# tenant's jobs). With 100,000 pending jobs this takes about 1 ms.
FAIR_CLAIM_SQL = """
WITH RECURSIVE tenants AS (
    (SELECT tenant FROM jobs WHERE status = 'pending'
     ORDER BY tenant, available_at, seq LIMIT 1)
    UNION ALL
    SELECT (SELECT j.tenant FROM jobs j WHERE j.status = 'pending'
            AND j.tenant > tenants.tenant ORDER BY j.tenant, j.available_at, j.seq
            LIMIT 1)
    FROM tenants WHERE tenants.tenant IS NOT NULL
), queued AS (
    SELECT q.job_id, q.available_at, q.seq, row_number() OVER (
        PARTITION BY q.tenant ORDER BY q.available_at, q.seq) AS place
    FROM tenants CROSS JOIN LATERAL (
        SELECT tenant, job_id, available_at, seq FROM jobs
        WHERE tenant >= tenants.tenant AND tenant <= tenants.tenant
            AND status = 'pending' AND available_at <= $1
        ORDER BY tenant, available_at, seq LIMIT $2 FOR UPDATE SKIP LOCKED) q
    WHERE tenants.tenant IS NOT NULL
), picked AS (
    SELECT job_id, place, available_at, seq FROM queued
    ORDER BY place, available_at, seq LIMIT $2
)
SELECT jobs.version, jobs.body::text FROM picked JOIN jobs USING (job_id)
ORDER BY picked.place, picked.available_at, picked.seq
"""
