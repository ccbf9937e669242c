-- Scenarios and their outbox. A delivery row is written in the same transaction as the
-- event that triggers it, so a restart loses none; a worker leases rows before sending,
-- so two workers never send one delivery.
CREATE TABLE scenarios (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    enabled    INTEGER NOT NULL DEFAULT 1,
    trigger    TEXT NOT NULL,          -- JSON
    actions    TEXT NOT NULL,          -- JSON, webhook secrets included
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per (scenario action, triggering event, contact). A system event first gets a
-- single 'fanout' row, which the worker expands into one delivery per audience contact.
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    scenario_id     INTEGER NOT NULL REFERENCES scenarios (id),
    action_index    INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('delivery', 'fanout')),
    event_id        TEXT NOT NULL,
    contact_id      INTEGER,
    status          TEXT NOT NULL DEFAULT 'pending',  -- pending | delivered | failed | done
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    leased_until    INTEGER NOT NULL DEFAULT 0,
    message         TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (scenario_id, action_index, kind, event_id, contact_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_by_scenario ON deliveries (scenario_id, id);

CREATE TABLE delivery_attempts (
    id          INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    at          INTEGER NOT NULL,
    status_code INTEGER,
    error       TEXT
);
CREATE INDEX delivery_attempts_by_delivery ON delivery_attempts (delivery_id, id);
