-- Partners involved as co-handlers: they see the signal, read its description and may add feedback.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS involved_partners uuid[] NOT NULL DEFAULT '{}';
CREATE INDEX IF NOT EXISTS signals_by_involved ON signals USING gin (involved_partners);
