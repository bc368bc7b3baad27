-- Leases a job lost to killed, crashed or stalled workers (VTS_MAX_LEASE_LOSSES); counted apart from its
-- attempts. The JSON body carries it too; bodies written before this migration have none, which reads as 0.
-- A constant default: no table rewrite (PostgreSQL 11+).
ALTER TABLE jobs ADD COLUMN lease_losses INTEGER NOT NULL DEFAULT 0;
