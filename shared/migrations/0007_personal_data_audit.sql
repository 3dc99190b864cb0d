-- Who read or changed which personal data of which object, and when (CONTRACT.md "More REST at the
-- gateway": /v1/audit). `data_subject` is whose data it is (pseudonymised on erasure); `actor` who
-- acted (a role, a partner, or a staff member's subject; kept on erasure of the data subject).
CREATE TABLE IF NOT EXISTS personal_data_audit (
    id           bigserial PRIMARY KEY,
    object_id    text NOT NULL,
    data_subject text,
    actor        text NOT NULL,
    action       text NOT NULL,
    at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS personal_data_audit_by_object ON personal_data_audit (object_id, at);
CREATE INDEX IF NOT EXISTS personal_data_audit_by_subject ON personal_data_audit (data_subject);
