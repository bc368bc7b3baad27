-- Signed webhooks (issue 12): endpoints, the deliveries outbox, the dispatcher's cursor.
-- events: space-separated types (or `*`). The previous secret signs too until it expires (rotation).
-- failing_since / exhausted_streak: the failure streak that disables an endpoint (vts.webhooks.model).
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    description TEXT NOT NULL,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL,
    disabled_at TIMESTAMPTZ,
    disabled_reason TEXT,
    failing_since TIMESTAMPTZ,
    exhausted_streak INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant, created_at);
-- One row per message per endpoint; id is the Standard Webhooks message id (stable across retries).
-- (endpoint_id, event_seq) is unique: an event makes at most one delivery per endpoint.
-- claimed_until: a sender's lease; a crashed replica's claims come back when it runs out.
CREATE TABLE webhook_deliveries (
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL,
    tenant TEXT NOT NULL,
    event_seq BIGINT NOT NULL,
    job_id TEXT NOT NULL,
    type TEXT NOT NULL,
    payload BYTEA NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    schedule_base INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ,
    claimed_until TIMESTAMPTZ,
    last_status INTEGER,
    last_response TEXT,
    last_error TEXT,
    changed_at TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    UNIQUE (endpoint_id, event_seq)
);
-- The senders' queue: due pending deliveries, soonest first.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
-- Pruning: finished deliveries are deleted VTS_EVENT_RETENTION after their last attempt.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE status != 'pending';
-- The dispatcher's position in job_events: every event up to seq has made its deliveries.
-- One row, taken FOR UPDATE SKIP LOCKED: one replica at a time moves it.
-- It starts at the log's end: history from before webhooks existed has no endpoint to go to.
CREATE TABLE webhook_cursor (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    seq BIGINT NOT NULL
);
INSERT INTO webhook_cursor (id, seq) SELECT true, coalesce(max(seq), 0) FROM job_events;
