-- A stored idempotent answer kept the whole signal (description, location, reporter) until purged;
-- it now keeps ids only, and a replay shows the signal as it is now (issue 18, item 2).
UPDATE idempotency_keys
SET response = jsonb_build_object('signalId', response -> 'signal' ->> 'id', 'duplicate', coalesce(response -> 'duplicate', 'false'::jsonb))
WHERE status_code <> 0 AND response ? 'signal';
