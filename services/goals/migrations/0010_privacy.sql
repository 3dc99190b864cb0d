-- A stored proposal answer kept the resident's title and text; it now keeps the id only and a
-- replay reads the proposal as it is now (issue 18, item 2).
UPDATE idempotency_keys SET response = jsonb_build_object('id', response ->> 'id')
WHERE scope LIKE 'goals.propose:%' AND status_code <> 0 AND response ? 'id';

-- DELETE /v1/me (CONTRACT.md Rule 16): a proposal whose proposer asked for erasure keeps its text
-- only while open; the erasure sweep removes it once adopted or declined.
ALTER TABLE proposals ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;
