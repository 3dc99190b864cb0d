-- The signals notifications has seen reported (signal.received): their reference and the group
-- that reported them, for the events that do not name the group (signal.merged, .rejected,
-- .closed) and for the original's reference in a merged signal's notice. Ids and codes only.
CREATE TABLE IF NOT EXISTS signals_seen (
    signal_id   uuid PRIMARY KEY,
    reference   text NOT NULL,
    group_id    uuid,
    received_at timestamptz NOT NULL
);
