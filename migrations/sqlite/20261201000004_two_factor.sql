-- Two-factor sign-in (TOTP, RFC 6238). The secret is sealed with the server key (never
-- stored in plain text); `confirmed_at` is NULL while the user is still setting it up.
-- `last_used_step` is the latest time step a code was accepted for: a code is good
-- once, and never one of an earlier step.
CREATE TABLE totp_factors (
    user_id        INTEGER NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed  TEXT    NOT NULL,
    confirmed_at   INTEGER,
    last_used_step INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);

-- Single-use recovery codes, stored as keyed hashes (HMAC with the server key).
CREATE TABLE recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT    NOT NULL,
    used_at    INTEGER,
    created_at INTEGER NOT NULL
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- A sign-in whose password (or provider) was right and whose second factor is still to
-- come. Found by the SHA-256 of the random handle in the browser's cookie; five minutes.
CREATE TABLE pending_sign_ins (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    method     TEXT    NOT NULL,
    next       TEXT    NOT NULL,
    failures   INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX pending_sign_ins_expires ON pending_sign_ins (expires_at);
