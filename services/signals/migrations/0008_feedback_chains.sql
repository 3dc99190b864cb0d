-- The escalated partner's own case number (e.g. the police's), set by that partner.
ALTER TABLE signals ADD COLUMN IF NOT EXISTS external_reference text;

-- Chains a region agrees: a signal escalated to `partner_id` and not acknowledged in time goes to
-- the step's next partner. Kept here because the signals service is the one that passes signals on.
-- `municipalities`: those the chain was set for (checked against the partner's when it fires);
-- `min_after_minutes` and `next_partners` let the periodic task's query skip what cannot fire.
CREATE TABLE IF NOT EXISTS partner_chains (
    partner_id        uuid PRIMARY KEY,
    municipalities    text[] NOT NULL,
    steps             jsonb NOT NULL,
    min_after_minutes integer NOT NULL,
    next_partners     uuid[] NOT NULL,
    updated_at        timestamptz NOT NULL
);
