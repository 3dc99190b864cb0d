-- The partner directory: partners, their unique names per municipality, sealed webhook secrets, contacts.
CREATE TABLE partners (
    id                          uuid PRIMARY KEY,
    name                        text NOT NULL,
    kind                        text NOT NULL,
    municipalities              text[] NOT NULL,
    areas                       text[] NOT NULL,
    categories                  text[] NOT NULL,
    auto_escalate               text[] NOT NULL DEFAULT '{}',
    acknowledge_within_minutes  integer NOT NULL CHECK (acknowledge_within_minutes > 0),
    acknowledge_by_urgency      jsonb NOT NULL DEFAULT '{}',
    availability                jsonb NOT NULL DEFAULT '[]',
    priority                    integer NOT NULL DEFAULT 0,
    active                      boolean NOT NULL DEFAULT true,
    webhook_url                 text,
    email                       text,
    registered_at               timestamptz NOT NULL,
    updated_at                  timestamptz NOT NULL,
    version                     integer NOT NULL
);
CREATE INDEX partners_municipalities ON partners USING gin (municipalities);
CREATE INDEX partners_areas ON partners USING gin (areas);
CREATE INDEX partners_order ON partners (registered_at, id);

-- One name per municipality (case and spacing folded): the race-proof guard behind the 409.
CREATE TABLE partner_names (
    municipality text NOT NULL,
    name_key     text NOT NULL,
    partner_id   uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    PRIMARY KEY (municipality, name_key)
);
CREATE INDEX partner_names_partner ON partner_names (partner_id);

-- AES-GCM sealed (shared.crypto.SecretBox, the partner id as associated data); expires_at is set on rotation.
CREATE TABLE webhook_secrets (
    id          bigserial PRIMARY KEY,
    partner_id  uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    sealed      bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz
);
CREATE INDEX webhook_secrets_partner ON webhook_secrets (partner_id, created_at DESC);

CREATE TABLE contacts (
    id          uuid PRIMARY KEY,
    partner_id  uuid NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    name        text NOT NULL,
    role        text NOT NULL,
    email       text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX contacts_partner ON contacts (partner_id, created_at, id);
