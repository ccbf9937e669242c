-- Core schema: settings, users, API keys, event definitions, contacts, events, failed events.
-- Times are integer microseconds since the Unix epoch (UTC).

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('server', 'site')),
    key_hash    TEXT NOT NULL UNIQUE,
    key_prefix  TEXT NOT NULL,
    scopes      TEXT NOT NULL,           -- JSON list
    allow_read  TEXT NOT NULL,           -- JSON list of identifier kinds
    allow_write TEXT NOT NULL,           -- JSON list of identifier kinds
    origins     TEXT NOT NULL,           -- JSON list (site keys)
    require_identity_hash INTEGER NOT NULL DEFAULT 0,
    identity_secret TEXT,
    created_at  INTEGER NOT NULL
);

CREATE TABLE definitions (
    name            TEXT PRIMARY KEY,
    current_version INTEGER NOT NULL,
    hidden          INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE definition_versions (
    name       TEXT NOT NULL REFERENCES definitions (name),
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,           -- JSON: title, category, scope, fields, web_tracking, retention_days
    created_at INTEGER NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE contacts (
    id          INTEGER PRIMARY KEY,
    email       TEXT UNIQUE,
    phone       TEXT UNIQUE,
    external_id TEXT UNIQUE,
    attributes  TEXT NOT NULL DEFAULT '{}',
    created_at  INTEGER NOT NULL
);

CREATE TABLE events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    event        TEXT NOT NULL,
    ts           INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    contact_id   INTEGER,
    session_id   TEXT,
    params       TEXT NOT NULL,
    context      TEXT NOT NULL,
    version      INTEGER NOT NULL,
    source       TEXT,
    api_inserted INTEGER NOT NULL DEFAULT 0,
    api_verified INTEGER NOT NULL DEFAULT 0,
    backfilled   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_by_time ON events (ts, seq);
CREATE INDEX events_by_name ON events (event, ts, seq);
CREATE INDEX events_by_contact ON events (contact_id, ts, seq);
CREATE INDEX events_by_session ON events (session_id, ts, seq) WHERE session_id IS NOT NULL;

CREATE TABLE failed_events (
    seq          INTEGER PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    received_at  INTEGER NOT NULL,
    event        TEXT,
    door         TEXT NOT NULL,          -- the adapter that reads the payload again on replay
    source       TEXT NOT NULL,          -- JSON: endpoint, key
    reasons      TEXT NOT NULL,          -- JSON list of {code, path, message}
    payload      TEXT NOT NULL,
    replayed_at  INTEGER,
    replayed_as  TEXT
);
CREATE INDEX failed_events_open ON failed_events (received_at, seq) WHERE replayed_at IS NULL;
