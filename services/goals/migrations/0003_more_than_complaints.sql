-- Indicators beyond complaints: reporters' ratings (signal.rated), residents' initiatives
-- (initiative.*), and values a coordinator records by hand (recordMeasurement).
CREATE TABLE signal_ratings (
    rating_id    uuid PRIMARY KEY,
    signal_id    uuid NOT NULL,
    partner_id   uuid,
    municipality text NOT NULL,
    area         text NOT NULL,
    district     text,
    category     text NOT NULL,
    satisfied    boolean NOT NULL,
    resolved_at  timestamptz NOT NULL,
    quarter      text NOT NULL,  -- of the resolution it rates
    rated_at     timestamptz NOT NULL
);
CREATE INDEX signal_ratings_area ON signal_ratings (area, quarter);
CREATE INDEX signal_ratings_district ON signal_ratings (district, quarter);
CREATE INDEX signal_ratings_municipality ON signal_ratings (municipality, quarter);
CREATE INDEX signal_ratings_partner ON signal_ratings (partner_id, quarter);

CREATE TABLE initiatives (
    initiative_id     uuid PRIMARY KEY,
    municipality      text NOT NULL,
    area              text NOT NULL,
    district          text,
    status            text NOT NULL,
    participant_count integer NOT NULL,
    started_at        timestamptz,
    ended_at          timestamptz,
    sequence          bigint NOT NULL
);
CREATE INDEX initiatives_area ON initiatives (area);
CREATE INDEX initiatives_district ON initiatives (district);
CREATE INDEX initiatives_municipality ON initiatives (municipality);

CREATE TABLE manual_measurements (
    goal_id     uuid NOT NULL REFERENCES goals (id),
    indicator   integer NOT NULL,  -- position in the goal's indicators
    quarter     text NOT NULL,
    value       double precision NOT NULL,
    source      text NOT NULL,
    recorded_by text NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (goal_id, indicator, quarter)
);
