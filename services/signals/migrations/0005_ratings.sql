-- Reporters' ratings of a signal's resolution, by the reporter's subject: {"satisfied", "comment", "at"}.
-- A merged duplicate's reporters rate the signal it was merged into.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS ratings jsonb NOT NULL DEFAULT '{}';
