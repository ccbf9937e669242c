-- Sessions are signed tokens and need no row while anonymous; a row records the contact a
-- session was identified as, so later events of the session go straight to that contact.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    contact_id    INTEGER NOT NULL REFERENCES contacts (id),
    verified      INTEGER NOT NULL DEFAULT 0,
    identified_at INTEGER NOT NULL
);
