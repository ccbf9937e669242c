-- Contact attribute names that exist (written through the contacts API or the UI); an
-- event may only set those (custom_<field> keys of the Squeezely-style door).
CREATE TABLE contact_fields (
    name       TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL
);
INSERT INTO contact_fields (name, created_at)
    SELECT DISTINCT key, 0 FROM contacts, json_object_keys(contacts.attributes) AS key;

-- SQLite's json_patch (RFC 7396 merge patch), which PostgreSQL lacks, so events setting
-- contact fields merge them as on SQLite: a null removes a field, objects merge key by
-- key, a key already there keeps its place and new keys follow in the patch's order.
CREATE FUNCTION ek_json_patch(target JSON, patch JSON) RETURNS JSON
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
    IF patch IS NULL OR json_typeof(patch) <> 'object' THEN
        RETURN patch;
    END IF;
    IF target IS NULL OR json_typeof(target) <> 'object' THEN
        target := '{}';
    END IF;
    RETURN (
        SELECT coalesce(json_object_agg(merged.key, merged.value ORDER BY merged.place), '{}')
        FROM (
            SELECT t.key, t.place,
                   CASE WHEN p.key IS NULL THEN t.value
                        ELSE ek_json_patch(t.value, p.value) END AS value
            FROM json_each(target) WITH ORDINALITY AS t (key, value, place)
            LEFT JOIN json_each(patch) AS p ON p.key = t.key
            WHERE p.key IS NULL OR json_typeof(p.value) <> 'null'
            UNION ALL
            SELECT p.key, 1000000000 + p.place, ek_json_patch(NULL, p.value)
            FROM json_each(patch) WITH ORDINALITY AS p (key, value, place)
            WHERE json_typeof(p.value) <> 'null'
              AND NOT EXISTS (SELECT 1 FROM json_each(target) AS t WHERE t.key = p.key)
        ) AS merged
    );
END
$$;
