-- The durable event log (issue 12, docs/design-event-log.md): one row per committed job version,
-- written by the group commit in the same transaction as the change.
-- seq is commit order, not a bigserial: each writing transaction takes its seqs from this one
-- counter row (UPDATE ... RETURNING) just before it commits, and holds the row lock until then,
-- so a transaction with lower seqs has always committed before any with higher ones is visible.
CREATE TABLE event_counter (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    n BIGINT NOT NULL
);
INSERT INTO event_counter (id, n) VALUES (true, 0);
-- body: the public snapshot bytes exactly as clients get them (bytea, not jsonb, which reorders).
CREATE TABLE job_events (
    seq BIGINT PRIMARY KEY,
    tenant TEXT NOT NULL,
    job_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    body BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A tenant's stream. One index only: each costs every change a write (measured,
-- docs/benchmarks.md). A few jobs' stream (?job_id=) filters the tenant's after its cursor;
-- pruning walks seq from the oldest, whose created_at grows with it.
CREATE INDEX job_events_tenant ON job_events (tenant, seq);
