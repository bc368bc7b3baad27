-- The dead-letter view (GET /dlq while the broker is away, and the DLQ resync at start-up): failed jobs,
-- most recent first, as Postgres's jobs_dead serves them.
CREATE INDEX jobs_dead ON jobs (completed_at DESC, seq DESC) WHERE status = 'failed';
