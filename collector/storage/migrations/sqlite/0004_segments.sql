-- Saved segments: a name and the rules as sent (compiled again on every use, so they
-- follow the definitions as they change).
CREATE TABLE segments (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    rules      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
-- Per-contact look-ups of one event (segments, scenarios' audiences).
CREATE INDEX events_by_contact_event ON events (contact_id, event, ts);
