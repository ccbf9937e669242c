-- The key an event came with, so the live debugger (which reads what every process
-- committed from the database) can filter by it.
ALTER TABLE events ADD COLUMN key_name TEXT;
-- Superseded by events_by_name_contact (segments) and events_by_contact (timelines):
-- one index less to update on every insert.
DROP INDEX events_by_contact_event;
