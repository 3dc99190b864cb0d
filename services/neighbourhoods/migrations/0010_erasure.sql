-- DELETE /v1/me (CONTRACT.md Rule 16): an initiative whose leader asked for erasure keeps its texts
-- only while active; the erasure sweep removes them once it is done or stopped.
ALTER TABLE initiatives ADD COLUMN IF NOT EXISTS erased boolean NOT NULL DEFAULT false;
