-- Contact attribute names that exist (written through the contacts API or the UI); an
-- event may only set those (custom_<field> keys of the Squeezely-style door).
CREATE TABLE contact_fields (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);
INSERT INTO contact_fields (name, created_at)
    SELECT DISTINCT key, 0 FROM contacts, json_each(contacts.attributes);
