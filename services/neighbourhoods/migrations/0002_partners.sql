-- Read model of partner.* events (full state, applied by version): who may post and pledge where.
CREATE TABLE partners (
    partner_id     uuid PRIMARY KEY,
    version        bigint NOT NULL,
    kind           text NOT NULL,
    municipalities text[] NOT NULL,
    areas          text[] NOT NULL,
    active         boolean NOT NULL
);
