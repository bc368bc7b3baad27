-- Fair claims (issue 10): each tenant's own queue of due work, oldest first, so a
-- claim takes the head of every tenant's queue instead of one tenant's whole backlog.
CREATE INDEX jobs_tenant_due ON jobs (tenant, available_at, seq) WHERE status = 'pending';
