-- Retention (VTS_RETENTION) deletes final jobs oldest first, by when they finished.
CREATE INDEX jobs_finished ON jobs (completed_at) WHERE status IN ('completed', 'failed', 'cancelled');
