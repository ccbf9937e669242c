-- Sessions are signed tokens and need no row while anonymous; a row records the contact a
-- session was identified as, so later events of the session go straight to that contact.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    contact_id    BIGINT NOT NULL REFERENCES contacts (id),
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    identified_at BIGINT NOT NULL
);
