-- Jobs: the JSON body holds every field, the columns are what queries filter and sort on.
CREATE TABLE jobs (
    seq BIGSERIAL PRIMARY KEY,
    job_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    available_at TIMESTAMPTZ,
    lease_owner TEXT,
    lease_expires_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    idempotency_key TEXT UNIQUE,
    fingerprint TEXT,
    body JSONB NOT NULL
);
CREATE INDEX jobs_due ON jobs (available_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_status ON jobs (status, seq);
CREATE INDEX jobs_dead ON jobs (completed_at DESC, seq DESC) WHERE status = 'failed';
