-- Events a consumer took from Kafka but cannot apply yet (shared.waiting): a fact they need is not
-- there (NotYet), a handler met a passing failure of its own, or an earlier event of the same
-- aggregate has not been applied. They wait here, with the raw record, while the partition goes
-- on; they are retried when their aggregate moves or on a timer, and dead-lettered past `deadline`.
CREATE TABLE IF NOT EXISTS consumer_waiting (
    id              bigserial PRIMARY KEY,
    consumer        text NOT NULL,
    event_id        uuid NOT NULL,
    subject         text NOT NULL,
    sequence        bigint NOT NULL DEFAULT 0,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    kafka_offset    bigint NOT NULL,
    payload         bytea NOT NULL,
    traceparent     text,
    reason          text NOT NULL,
    error           text,
    attempts        integer NOT NULL DEFAULT 0,
    waiting_since   timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    -- the database's own time of parking (waiting_since is the service's clock, which tests pin):
    -- the order barrier compares it with the database's time of its offset snapshots
    parked_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (consumer, event_id)
);
CREATE INDEX IF NOT EXISTS consumer_waiting_by_subject ON consumer_waiting (consumer, subject, sequence, id);
CREATE INDEX IF NOT EXISTS consumer_waiting_due ON consumer_waiting (consumer, next_attempt_at);

-- The highest aggregate version (CloudEvent `sequence`) a consumer applied, per subject: an event
-- further ahead than the next one is held back until the gap closes (consumers run `ordered`).
CREATE TABLE IF NOT EXISTS consumer_positions (
    consumer   text NOT NULL,
    subject    text NOT NULL,
    sequence   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, subject)
);
CREATE INDEX IF NOT EXISTS consumer_positions_by_age ON consumer_positions (updated_at);
