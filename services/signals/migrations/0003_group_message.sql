-- The latest text a partner wrote to be shared in the reporting group (never in an event).
ALTER TABLE signals ADD COLUMN IF NOT EXISTS group_message text;
