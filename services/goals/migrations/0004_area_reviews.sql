-- The quarterly review of an area, held together: what partners are (to know who concerns an
-- area), how each responded to the area's signals, the scores participants give each other, the
-- agreements they make, and the reviews held (their figures frozen).
ALTER TABLE partners ADD COLUMN name text NOT NULL DEFAULT '';
ALTER TABLE partners ADD COLUMN kind text NOT NULL DEFAULT 'other';
ALTER TABLE partners ADD COLUMN areas text[] NOT NULL DEFAULT '{}';

-- One row per signal and partner it was escalated (or transferred) to: counted once, in the
-- quarter of its first escalation, also when later transferred away.
CREATE TABLE partner_escalations (
    signal_id       uuid NOT NULL,
    partner_id      uuid NOT NULL,
    escalated_at    timestamptz,
    acknowledge_by  timestamptz,
    acknowledged_at timestamptz,
    resolved_at     timestamptz,
    PRIMARY KEY (signal_id, partner_id)
);
CREATE INDEX partner_escalations_at ON partner_escalations (escalated_at);

-- Time a signal spent in REACTION_REQUESTED: left out of the minutes to acknowledge.
CREATE TABLE signal_pauses (
    signal_id  uuid NOT NULL,
    partner_id uuid NOT NULL,
    asked_at   timestamptz NOT NULL,
    ended_at   timestamptz NOT NULL,
    PRIMARY KEY (signal_id, partner_id, asked_at)
);

-- Resolutions whose feedback reached a reporter (notification.delivered of signal.resolved).
CREATE TABLE feedback_deliveries (
    signal_id  uuid NOT NULL,
    target     text NOT NULL,
    partner_id uuid,
    PRIMARY KEY (signal_id, target)
);

CREATE TABLE cooperation_scores (
    area         text NOT NULL,
    quarter      text NOT NULL,
    from_partner uuid NOT NULL,
    to_partner   uuid NOT NULL,
    score        integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      text,
    rated_by     text NOT NULL,
    rated_at     timestamptz NOT NULL,
    PRIMARY KEY (area, quarter, from_partner, to_partner)
);

CREATE TABLE agreements (
    id           uuid PRIMARY KEY,
    municipality text NOT NULL,
    area         text NOT NULL,
    text         text NOT NULL,
    owner        uuid NOT NULL,
    made_in      text NOT NULL,
    due_quarter  text NOT NULL,
    status       text NOT NULL,
    closed_in    text,  -- the quarter it was marked done or dropped
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX agreements_area ON agreements (area, made_in);

CREATE TABLE area_reviews (
    area         text NOT NULL,
    quarter      text NOT NULL,
    municipality text NOT NULL,
    notes        text,
    held_at      timestamptz NOT NULL,
    held_by      text NOT NULL,
    figures      jsonb NOT NULL,
    PRIMARY KEY (area, quarter)
);
