-- Jobs: the JSON body holds every field, the columns are what queries filter and sort on.
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    available_at REAL,
    lease_owner TEXT,
    lease_expires_at REAL,
    completed_at REAL,
    idempotency_key TEXT UNIQUE,
    fingerprint TEXT,
    body TEXT NOT NULL
);
CREATE INDEX jobs_due ON jobs (available_at, seq) WHERE status = 'pending';
CREATE INDEX jobs_leases ON jobs (lease_expires_at) WHERE status = 'processing';
CREATE INDEX jobs_status ON jobs (status, seq);
