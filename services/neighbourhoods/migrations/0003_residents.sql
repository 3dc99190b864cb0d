-- The neighbourhoods residents live in. A resident is its keyed pseudonym (shared.crypto.resident_ref),
-- never a token subject; `version` orders their events.
CREATE TABLE residents (
    resident text PRIMARY KEY,
    version  integer NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    resident     text NOT NULL REFERENCES residents (resident),
    area         text NOT NULL,
    municipality text NOT NULL,
    joined_at    timestamptz NOT NULL,
    PRIMARY KEY (resident, area)
);
CREATE INDEX memberships_area ON memberships (area);
