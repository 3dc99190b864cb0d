-- Goals, residents' proposals, quarterly reviews, and the read models fed by events.
CREATE TABLE goals (
    id           uuid PRIMARY KEY,
    municipality text NOT NULL,
    area         text NOT NULL,
    year         integer NOT NULL,
    title        text NOT NULL,
    description  text,
    theme        text,
    categories   text[] NOT NULL DEFAULT '{}',
    indicators   jsonb NOT NULL DEFAULT '[]',
    partner_ids  uuid[] NOT NULL DEFAULT '{}',
    status       text NOT NULL,
    proposal_id  uuid,
    version      integer NOT NULL,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX goals_area_year ON goals (area, year);
CREATE INDEX goals_municipality ON goals (municipality, created_at, id);
CREATE INDEX goals_active_year ON goals (year) WHERE status = 'active';

CREATE TABLE proposals (
    id             uuid PRIMARY KEY,
    municipality   text NOT NULL,
    area           text NOT NULL,
    year           integer NOT NULL,
    title          text NOT NULL,
    description    text,
    categories     text[] NOT NULL DEFAULT '{}',
    proposer       text NOT NULL,
    group_id       uuid,
    status         text NOT NULL DEFAULT 'open',
    decline_reason text,
    goal_id        uuid REFERENCES goals (id),
    proposed_at    timestamptz NOT NULL,
    decided_at     timestamptz
);
CREATE INDEX proposals_area_year ON proposals (area, year, proposed_at, id);

CREATE TABLE proposal_supports (
    proposal_id  uuid NOT NULL REFERENCES proposals (id),
    supporter    text NOT NULL,
    supported_at timestamptz NOT NULL,
    PRIMARY KEY (proposal_id, supporter)
);

CREATE TABLE reviews (
    id           uuid PRIMARY KEY,
    goal_id      uuid NOT NULL REFERENCES goals (id),
    quarter      text NOT NULL,
    assessment   text NOT NULL,
    decision     text NOT NULL,
    notes        text,
    measurements jsonb NOT NULL,
    cooperation  jsonb NOT NULL,
    reviewed_by  text NOT NULL,
    reviewed_at  timestamptz NOT NULL,
    UNIQUE (goal_id, quarter)
);

-- One row per (goal, quarter) whose goal.review_due was emitted, written with its outbox row.
CREATE TABLE reviews_due (
    goal_id    uuid NOT NULL REFERENCES goals (id),
    quarter    text NOT NULL,
    emitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (goal_id, quarter)
);

-- Read model of partner.* events (full state, applied by version).
CREATE TABLE partners (
    partner_id     uuid PRIMARY KEY,
    municipalities text[] NOT NULL,
    active         boolean NOT NULL,
    version        integer NOT NULL
);

-- One row per signal with the facts its events carried; statistics are aggregated on read.
CREATE TABLE signal_facts (
    signal_id        uuid PRIMARY KEY,
    municipality     text NOT NULL,
    area             text NOT NULL,
    district         text,
    category         text NOT NULL,
    status           text NOT NULL,
    sequence         bigint NOT NULL,
    received_at      timestamptz,
    quarter          text,
    merged           boolean NOT NULL DEFAULT false,
    escalated_at     timestamptz,
    acknowledged_at  timestamptz,
    ack_escalated_at timestamptz
);
CREATE INDEX signal_facts_area ON signal_facts (area, quarter);
CREATE INDEX signal_facts_district ON signal_facts (district, quarter);
CREATE INDEX signal_facts_municipality ON signal_facts (municipality, quarter);
