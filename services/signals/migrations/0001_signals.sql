-- Signals, their append-only history and escalations, the partners read model for routing,
-- the audit of contact reads, and the per-year reference sequences.

CREATE TABLE IF NOT EXISTS partners (
    partner_id                 uuid PRIMARY KEY,
    version                    bigint NOT NULL,
    name                       text NOT NULL,
    kind                       text NOT NULL,
    municipalities             text[] NOT NULL,
    areas                      text[] NOT NULL,
    categories                 text[] NOT NULL,
    auto_escalate              text[] NOT NULL DEFAULT '{}',
    acknowledge_within_minutes integer NOT NULL,
    acknowledge_by_urgency     jsonb NOT NULL DEFAULT '{}',
    availability               jsonb NOT NULL DEFAULT '[]',
    priority                   integer NOT NULL DEFAULT 0,
    active                     boolean NOT NULL,
    registered_at              timestamptz NOT NULL,
    applied_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS partners_coverage ON partners USING gin (areas) WHERE active;

CREATE TABLE IF NOT EXISTS signals (
    id                uuid PRIMARY KEY,
    reference         text NOT NULL UNIQUE,
    municipality      text NOT NULL,
    area              text NOT NULL,
    category          text NOT NULL,
    urgency           text NOT NULL,
    description       text,
    status            text NOT NULL,
    source            text NOT NULL,
    reporter          text NOT NULL,
    group_id          uuid,
    reported_at       timestamptz NOT NULL,
    observed_at       timestamptz,
    lat               double precision,
    lon               double precision,
    bag_id            text,
    contact           bytea,
    has_contact       boolean NOT NULL DEFAULT false,
    report_count      integer NOT NULL DEFAULT 1,
    duplicate_of      uuid REFERENCES signals (id),
    routed_partner_id uuid,
    escalated_to      uuid[] NOT NULL DEFAULT '{}',
    acknowledge_by    timestamptz,
    overdue_notified  boolean NOT NULL DEFAULT false,
    feedback          jsonb NOT NULL DEFAULT '[]',
    resolved_at       timestamptz,
    ended_at          timestamptz,
    version           integer NOT NULL
);
CREATE INDEX IF NOT EXISTS signals_open_by_place ON signals (municipality, area, category, reported_at)
    WHERE status IN ('received', 'escalated', 'acknowledged', 'reopened') AND duplicate_of IS NULL;
CREATE INDEX IF NOT EXISTS signals_by_municipality ON signals (municipality, reported_at, id);
CREATE INDEX IF NOT EXISTS signals_by_reporter ON signals (reporter, reported_at, id);
CREATE INDEX IF NOT EXISTS signals_by_group ON signals (group_id) WHERE group_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS signals_by_routed ON signals (routed_partner_id) WHERE routed_partner_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS signals_by_escalated ON signals USING gin (escalated_to);
CREATE INDEX IF NOT EXISTS signals_by_duplicate ON signals (duplicate_of) WHERE duplicate_of IS NOT NULL;
CREATE INDEX IF NOT EXISTS signals_awaiting_acknowledgement ON signals (acknowledge_by)
    WHERE status = 'escalated' AND NOT overdue_notified;
CREATE INDEX IF NOT EXISTS signals_resolved ON signals (resolved_at) WHERE status = 'resolved';
CREATE INDEX IF NOT EXISTS signals_ended ON signals (ended_at) WHERE ended_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS signal_history (
    signal_id   uuid NOT NULL REFERENCES signals (id),
    seq         integer NOT NULL,
    action      text NOT NULL,
    at          timestamptz NOT NULL,
    actor       text,
    from_status text,
    to_status   text,
    note        text,
    PRIMARY KEY (signal_id, seq)
);

-- History is never edited: only inserts.
CREATE OR REPLACE FUNCTION signal_history_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'signal history is append-only';
END $$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS signal_history_append_only ON signal_history;
CREATE TRIGGER signal_history_append_only BEFORE UPDATE OR DELETE ON signal_history
    FOR EACH ROW EXECUTE FUNCTION signal_history_is_append_only();

CREATE TABLE IF NOT EXISTS signal_escalations (
    signal_id       uuid NOT NULL REFERENCES signals (id),
    seq             integer NOT NULL,
    partner_id      uuid NOT NULL,
    reason          text,
    at              timestamptz NOT NULL,
    acknowledge_by  timestamptz NOT NULL,
    acknowledged_at timestamptz,
    automatic       boolean NOT NULL DEFAULT false,
    PRIMARY KEY (signal_id, seq)
);
CREATE INDEX IF NOT EXISTS signal_escalations_by_partner ON signal_escalations (partner_id, at, signal_id);

CREATE TABLE IF NOT EXISTS contact_reads (
    id        bigserial PRIMARY KEY,
    signal_id uuid NOT NULL,
    reader    text NOT NULL,
    contacts  integer NOT NULL,
    read_at   timestamptz NOT NULL DEFAULT now()
);

-- SIG-<year>-<6 digits>: one sequence per year, made on first use. A sequence never holds a
-- row lock, so concurrent intakes do not queue behind each other (a counter row would).
CREATE OR REPLACE FUNCTION next_signal_reference(year integer) RETURNS text AS $$
DECLARE
    seq text := 'signal_reference_' || year;
BEGIN
    IF to_regclass(seq) IS NULL THEN
        BEGIN
            EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %I', seq);
        EXCEPTION WHEN unique_violation OR duplicate_table THEN
            NULL;  -- made concurrently by another intake
        END;
    END IF;
    RETURN 'SIG-' || year || '-' || lpad(nextval(seq::regclass)::text, 6, '0');
END $$ LANGUAGE plpgsql;
