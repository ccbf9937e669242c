-- Segment conditions group one event's rows by contact: with this index SQLite walks
-- them already in contact order and counts, first/last times without touching the table.
CREATE INDEX events_by_name_contact ON events (event, contact_id, ts);
