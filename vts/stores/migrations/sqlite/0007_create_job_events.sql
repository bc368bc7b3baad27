-- The durable event log (issue 12, docs/design-event-log.md): one row per committed job version,
-- written by the group commit in the same transaction as the change.
-- AUTOINCREMENT: a seq is never handed out twice, even after pruning removed the newest rows
-- (a consumer's resume token must never name two events).
CREATE TABLE job_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at REAL NOT NULL
);
-- A tenant's stream. One index only: each costs every change a write (measured,
-- docs/benchmarks.md). A few jobs' stream (?job_id=) filters the tenant's after its cursor;
-- pruning walks seq from the oldest, whose created_at grows with it.
CREATE INDEX job_events_tenant ON job_events (tenant, seq);
