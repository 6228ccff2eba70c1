-- OAuth flows are sealed in a cookie (see src/server/auth/oauth/flow.rs); each is good
-- for one callback. A flow's state is recorded here (as its SHA-256) when its callback
-- is answered, so the same callback replayed, cookie and all, is refused. Rows are
-- purged once the flow would have expired anyway.
CREATE TABLE spent_oauth_states (
    state_hash TEXT   NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX spent_oauth_states_expires ON spent_oauth_states (expires_at);
