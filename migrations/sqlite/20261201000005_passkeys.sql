-- Passkeys (WebAuthn). `credential` is the credential as webauthn-rs serialises it (its
-- public key, counter and flags); `credential_id` (base64url) finds it when a browser
-- presents it. Sign count and backup flags are copied out for the settings page and
-- operators.
CREATE TABLE passkeys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    credential_id   TEXT    NOT NULL UNIQUE,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential      TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER,
    sign_count      INTEGER NOT NULL DEFAULT 0,
    backup_eligible INTEGER NOT NULL DEFAULT 0,
    backup_state    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- The WebAuthn user handle of each user with passkeys: random, so it says nothing about
-- the account (authenticators keep it and give it back when signing in).
CREATE TABLE passkey_users (
    user_id INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle  TEXT    NOT NULL UNIQUE
);

-- A registration or sign-in ceremony in progress: the challenge state, found by the
-- SHA-256 of the random handle in the browser's cookie; single use, five minutes.
CREATE TABLE passkey_challenges (
    id         TEXT    NOT NULL PRIMARY KEY,
    kind       TEXT    NOT NULL,
    user_id    INTEGER REFERENCES users (id) ON DELETE CASCADE,
    detail     TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX passkey_challenges_expires ON passkey_challenges (expires_at);
