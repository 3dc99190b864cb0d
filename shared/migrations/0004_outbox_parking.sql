-- A row Kafka will never accept (too large, its topic missing) is parked with the error, not
-- deleted and not retried: the relay skips it and the rows after it flow. Unpark to retry:
-- UPDATE outbox SET parked_at = NULL, park_error = NULL WHERE id = ...
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS park_error text;
CREATE INDEX IF NOT EXISTS outbox_parked ON outbox (id) WHERE parked_at IS NOT NULL;
