-- Segment conditions group one event's rows by contact: with this index PostgreSQL can
-- read them already in contact order, with the times, without touching the table.
CREATE INDEX events_by_name_contact ON events (event, contact_id, ts);
