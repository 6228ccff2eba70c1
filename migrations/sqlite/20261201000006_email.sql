-- E-mail addresses, verification and password reset by e-mail.
--
-- `email` is the address as typed (or as a provider gave it); `email_key` is its
-- lowercase form and alone decides uniqueness. `email_verified_at` is set once a link
-- sent to the address came back (or a provider vouched for it).
ALTER TABLE users ADD COLUMN email_key TEXT;
ALTER TABLE users ADD COLUMN email_verified_at INTEGER;

-- Until now an address was stored only when a provider said it was verified. Keep those
-- as verified; two accounts with one address (possible before) keep it on the older one.
UPDATE users SET email = NULL
 WHERE email IS NOT NULL
   AND id <> (SELECT MIN(u.id) FROM users u WHERE lower(u.email) = lower(users.email));
UPDATE users SET email_key = lower(email), email_verified_at = created_at WHERE email IS NOT NULL;
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- Links sent by e-mail: only the SHA-256 of the token is kept. `purpose` is `verify`
-- (the address on the account), `change` (a new address, which replaces the old one once
-- verified) or `reset` (a new password). `email` is where the link was sent.
CREATE TABLE email_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER  NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    TEXT    NOT NULL CHECK (purpose IN ('verify', 'change', 'reset')),
    email      TEXT    NOT NULL,
    expires_at INTEGER  NOT NULL,
    used_at    INTEGER,
    created_at INTEGER  NOT NULL
);
CREATE INDEX email_tokens_user ON email_tokens (user_id);
CREATE INDEX email_tokens_expires ON email_tokens (expires_at);

-- Messages waiting to be sent. The message (which may hold a link) is sealed with the
-- server key, and the row is deleted once the message is out. `locked_until` keeps two
-- instances from sending one message at once; a failure sets `next_attempt_at` further
-- out each time.
CREATE TABLE mail_queue (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    sealed          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER  NOT NULL,
    locked_until    INTEGER  NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      INTEGER  NOT NULL
);
CREATE INDEX mail_queue_next ON mail_queue (next_attempt_at);
