-- Refused requests (throttling) are recorded once per key and ten-minute window, with a
-- count: a flood adds a row per window instead of a row per request. Other events keep
-- coalesce_key NULL (a unique index allows any number of NULLs).
ALTER TABLE audit_events ADD COLUMN occurrences BIGINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN coalesce_key TEXT;
CREATE UNIQUE INDEX audit_events_coalesce_key ON audit_events (coalesce_key);
