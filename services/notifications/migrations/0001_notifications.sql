-- Notifications: the partners' channels (read model of partner.* events), deliveries and their attempts.
CREATE TABLE IF NOT EXISTS channels (
    partner_id       uuid PRIMARY KEY,
    kind             text NOT NULL,
    municipalities   text[] NOT NULL,
    areas            text[] NOT NULL,
    active           boolean NOT NULL,
    webhook_url      text,
    email            text,
    webhook_disabled boolean NOT NULL DEFAULT false,
    version          integer NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS channels_by_municipality ON channels USING gin (municipalities);

CREATE TABLE IF NOT EXISTS deliveries (
    id              uuid PRIMARY KEY,
    seq             bigserial NOT NULL UNIQUE,
    event_id        uuid NOT NULL,
    event_type      text NOT NULL,
    target          text NOT NULL,
    channel         text NOT NULL,
    partner_id      uuid,
    subject         text NOT NULL,
    municipality    text NOT NULL,
    -- deliveries with the same order key (subject, target, channel) are sent one after the other,
    -- in the order of the subject's version (events of different types come through different topics)
    order_key       text NOT NULL,
    sequence        bigint NOT NULL DEFAULT 0,
    data            jsonb NOT NULL,
    body            text NOT NULL,
    status          text NOT NULL DEFAULT 'pending',
    attempts        integer NOT NULL DEFAULT 0,
    round_attempts  integer NOT NULL DEFAULT 0,
    last_attempt_at timestamptz,
    next_attempt_at timestamptz,
    last_error      text,
    claimed_until   timestamptz,
    claim_token     uuid,
    -- the reporters (pseudonymous subjects, never addresses) already mailed in this delivery
    done_recipients text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, target, channel)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS deliveries_open_by_order ON deliveries (order_key, sequence, seq) WHERE status IN ('pending', 'retrying');
CREATE INDEX IF NOT EXISTS deliveries_by_subject ON deliveries (subject, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_partner ON deliveries (partner_id, seq);
CREATE INDEX IF NOT EXISTS deliveries_by_municipality ON deliveries (municipality, seq);

CREATE TABLE IF NOT EXISTS attempts (
    id          bigserial PRIMARY KEY,
    delivery_id uuid NOT NULL REFERENCES deliveries (id),
    at          timestamptz NOT NULL,
    status_code integer,
    error       text,
    duration_ms double precision NOT NULL,
    outcome     text NOT NULL
);
CREATE INDEX IF NOT EXISTS attempts_by_delivery ON attempts (delivery_id, id);
