-- POST /webhooks takes an Idempotency-Key, as POST /translate does: `tenant:key` (a tenant name has no
-- colon) and the fingerprint of the body that first used it. Kept as long as the endpoint.
ALTER TABLE webhook_endpoints ADD COLUMN idempotency_key TEXT;
ALTER TABLE webhook_endpoints ADD COLUMN fingerprint TEXT;
CREATE UNIQUE INDEX webhook_endpoints_idempotency ON webhook_endpoints (idempotency_key);
