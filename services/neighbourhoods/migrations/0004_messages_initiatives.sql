-- Messages to a neighbourhood or district, and residents' initiatives with their participants
-- (pseudonyms, counted, never listed) and the partners' pledges.
CREATE TABLE messages (
    id           uuid PRIMARY KEY,
    municipality text NOT NULL,
    area         text NOT NULL,
    kind         text NOT NULL,
    title        text NOT NULL,
    body         text NOT NULL,
    partner_id   uuid,
    posted_by    text NOT NULL,
    posted_at    timestamptz NOT NULL,
    valid_until  timestamptz,
    withdrawn_at timestamptz,
    version      integer NOT NULL
);
CREATE INDEX messages_municipality ON messages (municipality, posted_at DESC, id DESC);

CREATE TABLE initiatives (
    id           uuid PRIMARY KEY,
    municipality text NOT NULL,
    area         text NOT NULL,
    title        text NOT NULL,
    description  text,
    kind         text NOT NULL,
    status       text NOT NULL,
    starts_at    timestamptz,
    ends_at      timestamptz,
    place        text,
    asks         jsonb NOT NULL DEFAULT '[]',
    goal_id      uuid,
    leader       text NOT NULL,
    group_id     uuid,
    contact      bytea,
    outcome      text,
    stop_reason  text,
    created_at   timestamptz NOT NULL,
    ended_at     timestamptz,
    version      integer NOT NULL
);
CREATE INDEX initiatives_municipality ON initiatives (municipality, created_at DESC, id DESC);

CREATE TABLE participants (
    initiative_id uuid NOT NULL REFERENCES initiatives (id),
    resident      text NOT NULL,
    joined_at     timestamptz NOT NULL,
    PRIMARY KEY (initiative_id, resident)
);

CREATE TABLE pledges (
    id            uuid PRIMARY KEY,
    initiative_id uuid NOT NULL REFERENCES initiatives (id),
    partner_id    uuid NOT NULL,
    kind          text NOT NULL,
    note          text,
    pledged_by    text NOT NULL,
    pledged_at    timestamptz NOT NULL
);
CREATE INDEX pledges_initiative ON pledges (initiative_id, pledged_at, id);

-- Every read of a leader's contact (the notifications service alone), as signals audits reporters' contacts.
CREATE TABLE contact_reads (
    initiative_id uuid NOT NULL,
    reader        text NOT NULL,
    found         boolean NOT NULL,
    read_at       timestamptz NOT NULL DEFAULT now()
);
