-- Questions a partner asks the reporters (free text, never in an event), oldest first, and when
-- the open one was asked (for its expiry after 7 days).
ALTER TABLE signals ADD COLUMN IF NOT EXISTS questions jsonb NOT NULL DEFAULT '[]';
ALTER TABLE signals ADD COLUMN IF NOT EXISTS question_asked_at timestamptz;
CREATE INDEX IF NOT EXISTS signals_awaiting_reaction ON signals (question_asked_at)
    WHERE status = 'reaction_requested';
-- A signal waiting for a reporter's answer is open: duplicates merge into it.
CREATE INDEX IF NOT EXISTS signals_open_by_place_v2 ON signals (municipality, area, category, reported_at)
    WHERE status IN ('received', 'escalated', 'acknowledged', 'reopened', 'reaction_requested')
    AND duplicate_of IS NULL;
DROP INDEX IF EXISTS signals_open_by_place;
