-- When the holder of a session last confirmed it was them (password or a provider
-- round-trip on /reauth). Changing credentials needs this, or the sign-in itself, to be
-- within GATEHOUSE_REAUTH_WINDOW.
ALTER TABLE sessions ADD COLUMN reauthenticated_at BIGINT;
