-- What was erased and when, without the personal data itself (right to be forgotten).
CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    actor   TEXT NOT NULL,
    counts  TEXT NOT NULL
);
