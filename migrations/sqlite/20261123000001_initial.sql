-- Gatehouse schema, SQLite flavour. Times are unix seconds unless the column says _ms.
-- The PostgreSQL flavour (migrations/postgres) has the same tables, columns and indexes.

-- Accounts. `username` is what the person typed (after NFKC); `username_key` is its
-- lowercase form and alone decides uniqueness, so "Alice" and "alice" are one account.
CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL UNIQUE,
    password_hash TEXT,                                  -- NULL for OAuth-only accounts
    role          TEXT    NOT NULL DEFAULT 'user'
                  CHECK (role IN ('none', 'user', 'admin', 'owner')),
    display_name  TEXT,
    avatar_url    TEXT,
    email         TEXT,                                  -- kept only when the provider verified it
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX users_role ON users (role);

-- Sign-in with a provider. A provider account belongs to at most one user, and a user
-- links at most one account per provider.
CREATE TABLE oauth_accounts (
    provider         TEXT    NOT NULL,
    provider_user_id TEXT    NOT NULL,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    display          TEXT,                               -- the provider login or e-mail, for display
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (provider, provider_user_id)
);
CREATE UNIQUE INDEX oauth_accounts_user_provider ON oauth_accounts (user_id, provider);

-- Sessions. `id` is the lowercase hex SHA-256 of the token the browser holds; the token
-- itself is never stored. `handle` is a separate random name for the row, safe to put
-- in forms. `created_at` is the sign-in time the absolute lifetime counts from.
CREATE TABLE sessions (
    id           TEXT    PRIMARY KEY NOT NULL,
    handle       TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ip           TEXT,
    user_agent   TEXT
) WITHOUT ROWID;
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- Per-username sign-in failures and back-off; keyed by username_key, whether or not
-- such a user exists, so a lock reveals nothing.
CREATE TABLE login_throttle (
    key              TEXT    PRIMARY KEY NOT NULL,
    failures         INTEGER NOT NULL DEFAULT 0,
    locked_until_ms  INTEGER NOT NULL DEFAULT 0,
    updated_at_ms    INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX login_throttle_updated ON login_throttle (updated_at_ms);

-- Per-client rate limits (sign-in, sign-up), keyed by action and IP (IPv6 by /64).
-- A generic cell rate algorithm: `tat_ms` is the theoretical arrival time of the next
-- request; one column says everything a token bucket would.
CREATE TABLE rate_limits (
    key     TEXT    PRIMARY KEY NOT NULL,
    tat_ms  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_limits_tat ON rate_limits (tat_ms);

-- Security-relevant events. No foreign keys: the trail outlives the accounts it names,
-- so the username is copied in.
CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    user_id     INTEGER,
    username    TEXT,
    actor_id    INTEGER,
    ip          TEXT,
    user_agent  TEXT,
    detail      TEXT
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_kind_at ON audit_events (kind, at);
CREATE INDEX audit_events_username ON audit_events (username);
