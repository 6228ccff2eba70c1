-- Disabled accounts: no sign-in of any kind while `disabled_at` is set and
-- `disabled_until` (if any) is still ahead. The reason is for administrators only.
ALTER TABLE users ADD COLUMN disabled_at BIGINT;
ALTER TABLE users ADD COLUMN disabled_until BIGINT;
ALTER TABLE users ADD COLUMN disabled_reason TEXT;
