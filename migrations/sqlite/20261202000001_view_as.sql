-- "View as" (docs/accounts.md "Viewing as a user"): an admin's separate session as another user.
-- `impersonator_session` is the admin's own session: the view works only beside it and
-- goes with it. `impersonator_id` is the admin, for the user's sessions list and audit.
ALTER TABLE sessions ADD COLUMN impersonator_session TEXT REFERENCES sessions (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN impersonator_id INTEGER REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX sessions_impersonator_session ON sessions (impersonator_session);
CREATE INDEX sessions_impersonator_id ON sessions (impersonator_id);
