-- An escalation that is a transfer: the partners escalated to before it no longer act on the
-- signal or read its description.
ALTER TABLE signal_escalations ADD COLUMN IF NOT EXISTS transfer boolean NOT NULL DEFAULT false;
