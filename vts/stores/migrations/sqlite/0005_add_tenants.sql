-- Tenants (issue 10): every job belongs to one; jobs that existed before belong to `default`.
ALTER TABLE jobs ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default';
-- Idempotency-Keys are scoped per tenant: the column holds `tenant:key` (a tenant name has no colon).
UPDATE jobs SET idempotency_key = 'default:' || idempotency_key WHERE idempotency_key IS NOT NULL;
-- A tenant's job list (GET /jobs, by status or not) and its dead letters, newest first.
CREATE INDEX jobs_tenant ON jobs (tenant, seq);
CREATE INDEX jobs_tenant_status ON jobs (tenant, status, seq);
CREATE INDEX jobs_tenant_dead ON jobs (tenant, completed_at DESC, seq DESC) WHERE status = 'failed';
-- Tenants and their quotas; requests_per_second 0 is unlimited.
CREATE TABLE tenants (
    name TEXT PRIMARY KEY,
    max_active_jobs INTEGER NOT NULL,
    requests_per_second REAL NOT NULL,
    created_at REAL NOT NULL
);
-- API keys: `vts_<id>_<secret>`; only sha256(secret) is kept. Scopes are space-separated.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL REFERENCES tenants (name),
    scopes TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    expires_at REAL,
    revoked_at REAL,
    last_used_at REAL
);
CREATE INDEX api_keys_tenant ON api_keys (tenant, created_at);
