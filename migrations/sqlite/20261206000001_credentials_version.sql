-- Credentials version (SPEC §14): a counter on the user, copied into every session and
-- every pending sign-in when it is issued. A password change or reset, "sign out
-- everywhere", an operator's two-factor reset and disabling the account raise it in the
-- transaction that makes the change, so anything issued under an older version stops
-- working at once: session validation compares the two in its one query, and the
-- transaction that issues a session re-reads the user's version (a sign-in whose
-- password check was still running when the change committed gets nothing).
ALTER TABLE users ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pending_sign_ins ADD COLUMN credentials_version INTEGER NOT NULL DEFAULT 0;
