-- DELETE /v1/me (CONTRACT.md Rule 16): a signal whose reporter asked for erasure keeps its
-- description only while open; the erasure sweep removes it once the signal is final.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;
CREATE INDEX IF NOT EXISTS signals_erased_with_text ON signals (id) WHERE erased AND description IS NOT NULL;
