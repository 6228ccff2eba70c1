-- One table for a browser midway through a ceremony: a sign-in waiting for its second
-- factor, a passkey registration or sign-in, a round-trip to an OAuth provider (and the
-- ceremonies to come). A row is found by the SHA-256 of a random handle that only the
-- browser's cookie holds, is used once (taken atomically), counts its failed tries in
-- one statement, belongs to a user's credentials version (raising it ends the user's
-- ceremonies), and is purged once expired. It replaces pending_sign_ins,
-- passkey_challenges and spent_oauth_states (an OAuth flow was a sealed cookie with a
-- table of spent states; now it is a row, and taking it is its single use): the few
-- ceremonies in flight at the upgrade (minutes long) have to begin again.
CREATE TABLE ceremonies (
    id                  TEXT    NOT NULL PRIMARY KEY,
    kind                TEXT    NOT NULL,
    user_id             BIGINT  REFERENCES users (id) ON DELETE CASCADE,
    payload             TEXT    NOT NULL,
    next                TEXT    NOT NULL,
    failures            BIGINT  NOT NULL DEFAULT 0,
    credentials_version BIGINT  NOT NULL DEFAULT 0,
    expires_at          BIGINT  NOT NULL,
    created_at          BIGINT  NOT NULL
);
CREATE INDEX ceremonies_expires ON ceremonies (expires_at);
CREATE INDEX ceremonies_user ON ceremonies (user_id);

DROP TABLE pending_sign_ins;
DROP TABLE passkey_challenges;
DROP TABLE spent_oauth_states;
