-- Indexes on the time columns the retention jobs (shared/retention.py) delete by, so each bounded
-- batch finds its oldest rows without scanning the table.
-- Migrations run in a transaction, so these are plain CREATE INDEX: writes to the table wait while
-- it builds. Where a table is already large, create them beforehand in each service schema with
-- `CREATE INDEX CONCURRENTLY IF NOT EXISTS` (same names and definitions); this file then skips them.
-- Outbox: published rows only (the partial index never holds an unpublished row).
CREATE INDEX IF NOT EXISTS outbox_published_at ON outbox (published_at) WHERE published_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS inbox_processed_at ON inbox (processed_at);
CREATE INDEX IF NOT EXISTS idempotency_keys_created_at ON idempotency_keys (created_at);
