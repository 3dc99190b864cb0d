-- Proposals: the proposer's address (sealed, for goal.proposal_decided) and support counted where
-- residents live (the keyed pseudonym of each supporter, and the neighbourhoods residents joined).
ALTER TABLE proposals ADD COLUMN contact_sealed bytea;
ALTER TABLE proposal_supports ADD COLUMN supporter_ref text;
CREATE INDEX proposal_supports_ref ON proposal_supports (proposal_id, supporter_ref);

-- Read model of neighbourhood.resident_joined / resident_left: who lives where, by pseudonym.
CREATE TABLE area_residents (
    resident     text NOT NULL,
    area         text NOT NULL,
    district     text,
    municipality text NOT NULL,
    joined       boolean NOT NULL,
    changed_at   timestamptz NOT NULL,
    PRIMARY KEY (resident, area)
);
CREATE INDEX area_residents_area ON area_residents (area) WHERE joined;
CREATE INDEX area_residents_district ON area_residents (district) WHERE joined;
