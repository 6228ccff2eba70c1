//! Queries on `users`.

use super::{on_exec, Exec};
use crate::{
    domain::Username,
    model::{Role, SessionUser},
};
use anyhow::Context;
use std::fmt;

/// A row of `users`. Its `Debug` leaves the password hash out.
#[derive(Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    pub username: String,
    pub username_key: String,
    pub password_hash: Option<String>,
    pub role: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub email: Option<String>,
    /// When the address was verified (a link came back, or a provider vouched for it).
    pub email_verified_at: Option<i64>,
    /// Set while the account is disabled (see [`UserRow::is_disabled`]).
    pub disabled_at: Option<i64>,
    pub disabled_until: Option<i64>,
    /// Raised by every event that must end what was issued before it (SPEC §14,
    /// "Credentials version"); sessions and pending sign-ins carry the version they were
    /// issued under.
    pub credentials_version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl fmt::Debug for UserRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRow")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("role", &self.role)
            .field("has_password", &self.password_hash.is_some())
            .finish_non_exhaustive()
    }
}

/// A role as stored; a value outside the CHECK constraint is treated as `none`.
pub fn stored_role(stored: &str) -> Role {
    stored.parse().unwrap_or(Role::None)
}

impl UserRow {
    /// The stored role.
    pub fn role(&self) -> Role {
        stored_role(&self.role)
    }

    pub fn to_session_user(&self) -> SessionUser {
        SessionUser {
            id: self.id,
            username: self.username.clone(),
            role: self.role(),
            display_name: self.display_name.clone(),
            avatar_url: self.avatar_url.clone(),
            created_at: self.created_at,
            email_unverified: self.email.is_some() && self.email_verified_at.is_none(),
            viewed_by: None,
        }
    }

    /// True when the account may not sign in at `now`: disabled, and not past the end
    /// the disabling was given.
    pub fn is_disabled(&self, now: i64) -> bool {
        self.disabled_at.is_some() && self.disabled_until.is_none_or(|until| until > now)
    }

    /// The address, when it is verified (the only kind mail goes to, notices included).
    pub fn verified_email(&self) -> Option<&str> {
        self.email_verified_at.and(self.email.as_deref())
    }
}

/// The key an address is unique by: its lowercase form.
pub fn email_key(email: &str) -> String {
    email.to_lowercase()
}

/// `SELECT <every users column> FROM users <rest>`, as one literal (no allocation per query).
macro_rules! select_users {
    ($rest:literal) => {
        concat!(
            "SELECT id, username, username_key, password_hash, role, display_name, avatar_url, email, \
             email_verified_at, disabled_at, disabled_until, credentials_version, created_at, updated_at \
             FROM users ",
            $rest
        )
    };
}

/// What inserting a user came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Inserted {
    Created(SessionUser),
    /// The username key is taken (the UNIQUE constraint decided, so races end here too).
    Taken,
    /// The e-mail address belongs to another account.
    EmailTaken,
}

/// Details a new account may start with (a provider's name, avatar and verified e-mail).
#[derive(Clone, Copy, Debug, Default)]
pub struct Profile<'a> {
    pub display_name: Option<&'a str>,
    pub avatar_url: Option<&'a str>,
    pub email: Option<&'a str>,
    /// The address is verified already (a provider said so).
    pub email_verified: bool,
}

/// A user to create.
#[derive(Clone, Copy, Debug)]
pub struct NewUser<'a> {
    pub name: &'a Username,
    pub password_hash: Option<&'a str>,
    pub role: Role,
    pub profile: Profile<'a>,
}

impl<'a> NewUser<'a> {
    /// An account that signs in with a password.
    pub fn with_password(name: &'a Username, password_hash: &'a str, role: Role) -> NewUser<'a> {
        NewUser {
            name,
            password_hash: Some(password_hash),
            role,
            profile: Profile::default(),
        }
    }
}

/// Inserts a user created now; a taken username is an outcome, not an error.
pub async fn insert(ex: Exec<'_>, user: &NewUser<'_>, now: i64) -> anyhow::Result<Inserted> {
    let result: Result<i64, sqlx::Error> = on_exec!(ex, c => sqlx::query_scalar(
        "INSERT INTO users (username, username_key, password_hash, role, display_name, avatar_url, email, \
                            email_key, email_verified_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(user.name.as_str())
    .bind(user.name.key())
    .bind(user.password_hash)
    .bind(user.role.as_str())
    .bind(user.profile.display_name)
    .bind(user.profile.avatar_url)
    .bind(user.profile.email)
    .bind(user.profile.email.map(email_key))
    .bind((user.profile.email.is_some() && user.profile.email_verified).then_some(now))
    .bind(now)
    .fetch_one(c)
    .await);
    match result {
        Ok(id) => Ok(Inserted::Created(SessionUser {
            id,
            username: user.name.as_str().to_owned(),
            role: user.role,
            display_name: user.profile.display_name.map(str::to_owned),
            avatar_url: user.profile.avatar_url.map(str::to_owned),
            created_at: now,
            email_unverified: user.profile.email.is_some() && !user.profile.email_verified,
            viewed_by: None,
        })),
        Err(e) if is_email_violation(&e) => Ok(Inserted::EmailTaken),
        Err(e) if super::is_unique_violation(&e) => Ok(Inserted::Taken),
        Err(e) => Err(e).context("insert user"),
    }
}

pub async fn find_by_key(ex: Exec<'_>, username_key: &str) -> anyhow::Result<Option<UserRow>> {
    on_exec!(ex, c => sqlx::query_as(select_users!("WHERE username_key = $1")).bind(username_key).fetch_optional(c).await)
        .context("find user by username")
}

/// Disables the user (`Some((until, reason))`) or enables them again (`None`).
pub async fn set_disabled(
    ex: Exec<'_>,
    id: i64,
    disabled: Option<(Option<i64>, Option<&str>)>,
    now: i64,
) -> anyhow::Result<()> {
    let (at, until, reason) = match disabled {
        Some((until, reason)) => (Some(now), until, reason),
        None => (None, None, None),
    };
    on_exec!(ex, c => sqlx::query(
        "UPDATE users SET disabled_at = $1, disabled_until = $2, disabled_reason = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(at)
    .bind(until)
    .bind(reason)
    .bind(now)
    .bind(id)
    .execute(c)
    .await
    .map(|_| ()))
    .context("disable or enable a user")
}

/// Gives every address the key the application computes ([`email_key`]), where it has
/// another: the migration that introduced keys computed them with SQL `lower()`, which
/// folds only ASCII on SQLite (and follows the server's locale on PostgreSQL). Only
/// addresses with a character outside printable ASCII can differ, so only those are read.
/// Two accounts whose addresses turn out to be one keep it on the older account, as the
/// migration did; the newer one loses its address (logged). Answers how many changed.
pub async fn rekey_emails(ex: Exec<'_>) -> anyhow::Result<u64> {
    let mut ex = ex;
    type Row = (i64, String, Option<String>);
    let rows: Vec<Row> = match ex.reborrow() {
        Exec::Sqlite(c) => {
            sqlx::query_as("SELECT id, email, email_key FROM users WHERE email GLOB '*[^ -~]*' ORDER BY id")
                .fetch_all(c)
                .await
        }
        Exec::Postgres(c) => {
            sqlx::query_as("SELECT id, email, email_key FROM users WHERE email ~ '[^ -~]' ORDER BY id")
                .fetch_all(c)
                .await
        }
    }
    .context("read addresses to re-key")?;
    let mut changed = 0;
    for (id, email, stored) in rows {
        let key = email_key(&email);
        if stored.as_deref() == Some(key.as_str()) {
            continue;
        }
        let holder: Option<i64> = on_exec!(ex.reborrow(), c => sqlx::query_scalar(
            "SELECT id FROM users WHERE email_key = $1 AND id <> $2",
        )
        .bind(&key)
        .bind(id)
        .fetch_optional(c)
        .await)
        .context("find an address's holder")?;
        let loser = match holder {
            Some(other) if other < id => Some(id),
            Some(other) => Some(other),
            None => None,
        };
        if let Some(loser) = loser {
            tracing::warn!(
                user_id = loser,
                "two accounts had one e-mail address (compared as the application does): the \
                 newer one no longer has it"
            );
            on_exec!(ex.reborrow(), c => sqlx::query(
                "UPDATE users SET email = NULL, email_key = NULL, email_verified_at = NULL WHERE id = $1",
            )
            .bind(loser)
            .execute(c)
            .await
            .map(|_| ()))
            .context("remove a duplicate address")?;
            if loser == id {
                changed += 1;
                continue;
            }
        }
        on_exec!(ex.reborrow(), c => sqlx::query("UPDATE users SET email_key = $1 WHERE id = $2")
            .bind(&key)
            .bind(id)
            .execute(c)
            .await
            .map(|_| ()))
        .context("re-key an address")?;
        changed += 1;
    }
    Ok(changed)
}

/// True when `err` is the unique index on `email_key` refusing a second account.
fn is_email_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db)
        if db.is_unique_violation()
            && (db.constraint() == Some("users_email_key") || db.message().contains("email_key")))
}

/// The user whose address has this key.
pub async fn find_by_email_key(ex: Exec<'_>, key: &str) -> anyhow::Result<Option<UserRow>> {
    on_exec!(ex, c => sqlx::query_as(select_users!("WHERE email_key = $1")).bind(key).fetch_optional(c).await)
        .context("find user by e-mail")
}

/// Gives the user an address (`None` removes it), verified at `verified_at` or not.
/// Answers `false` when another account has the address.
pub async fn set_email(
    ex: Exec<'_>,
    id: i64,
    email: Option<&str>,
    verified_at: Option<i64>,
    now: i64,
) -> anyhow::Result<bool> {
    let result = on_exec!(ex, c => sqlx::query(
        "UPDATE users SET email = $1, email_key = $2, email_verified_at = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(email)
    .bind(email.map(email_key))
    .bind(verified_at)
    .bind(now)
    .bind(id)
    .execute(c)
    .await
    .map(|_| ()));
    match result {
        Ok(()) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e).context("update e-mail address"),
    }
}

/// Marks the user's address verified, if it still is `email` (it may have changed since
/// the link was sent). Answers whether it was.
pub async fn mark_email_verified(ex: Exec<'_>, id: i64, email: &str, now: i64) -> anyhow::Result<bool> {
    let done = on_exec!(ex, c => sqlx::query(
        "UPDATE users SET email_verified_at = $1, updated_at = $1 WHERE id = $2 AND email_key = $3",
    )
    .bind(now)
    .bind(id)
    .bind(email_key(email))
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("mark e-mail verified")?;
    Ok(done > 0)
}

pub async fn find_by_id(ex: Exec<'_>, id: i64) -> anyhow::Result<Option<UserRow>> {
    on_exec!(ex, c => sqlx::query_as(select_users!("WHERE id = $1")).bind(id).fetch_optional(c).await)
        .context("find user by id")
}

/// The user with this id, locked for the rest of the transaction (PostgreSQL:
/// `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` already holds the write lock): for checks
/// that must still hold when the transaction writes (the last way to sign in).
pub async fn lock_by_id(ex: Exec<'_>, id: i64) -> anyhow::Result<Option<UserRow>> {
    match ex {
        Exec::Sqlite(c) => {
            sqlx::query_as(select_users!("WHERE id = $1"))
                .bind(id)
                .fetch_optional(c)
                .await
        }
        Exec::Postgres(c) => {
            sqlx::query_as(select_users!("WHERE id = $1 FOR UPDATE"))
                .bind(id)
                .fetch_optional(c)
                .await
        }
    }
    .context("lock user")
}

/// The credentials version of a new account.
pub const FIRST_CREDENTIALS_VERSION: i64 = 0;

/// Raises the user's credentials version and ends their ceremonies (a pending sign-in, a
/// passkey being registered), in the caller's transaction (which also ends their sessions, or
/// replaces the acting one): whatever was issued before this moment stops working.
/// Answers the new version.
pub async fn bump_credentials(ex: Exec<'_>, id: i64) -> anyhow::Result<i64> {
    let mut ex = ex;
    let version: i64 = on_exec!(ex.reborrow(), c => sqlx::query_scalar(
        "UPDATE users SET credentials_version = credentials_version + 1 WHERE id = $1 \
         RETURNING CAST(credentials_version AS BIGINT)",
    )
    .bind(id)
    .fetch_one(c)
    .await)
    .context("raise the credentials version")?;
    super::ceremonies::end_for_user(ex, id).await?;
    Ok(version)
}

/// What issuing a session for a user depends on, read with the user's row locked in the
/// issuing transaction (PostgreSQL: `FOR UPDATE`; SQLite's `BEGIN IMMEDIATE` already
/// serialises writers), so an event that raises the version either commits before (and
/// the sign-in sees it) or waits until the session is stored (and ends it).
#[derive(Clone, Copy, Debug, sqlx::FromRow)]
pub struct IssueCheck {
    pub credentials_version: i64,
    pub disabled_at: Option<i64>,
    pub disabled_until: Option<i64>,
}

impl IssueCheck {
    /// True when the account may not sign in at `now` (as [`UserRow::is_disabled`]).
    pub fn is_disabled(&self, now: i64) -> bool {
        self.disabled_at.is_some() && self.disabled_until.is_none_or(|until| until > now)
    }
}

/// Reads [`IssueCheck`] for `id`, locking the row; `None` when the user is gone.
pub async fn lock_for_issue(ex: Exec<'_>, id: i64) -> anyhow::Result<Option<IssueCheck>> {
    macro_rules! select {
        ($lock:literal) => {
            concat!(
                "SELECT CAST(credentials_version AS BIGINT) AS credentials_version, disabled_at, ",
                "disabled_until FROM users WHERE id = $1",
                $lock
            )
        };
    }
    match ex {
        Exec::Sqlite(c) => sqlx::query_as(select!("")).bind(id).fetch_optional(c).await,
        Exec::Postgres(c) => {
            sqlx::query_as(select!(" FOR UPDATE"))
                .bind(id)
                .fetch_optional(c)
                .await
        }
    }
    .context("lock the user to issue a session")
}

/// True when a user with this username key exists.
pub async fn key_exists(ex: Exec<'_>, username_key: &str) -> anyhow::Result<bool> {
    let found: Option<i64> =
        on_exec!(ex, c => sqlx::query_scalar("SELECT id FROM users WHERE username_key = $1")
        .bind(username_key)
        .fetch_optional(c)
        .await)
        .context("check username")?;
    Ok(found.is_some())
}

pub async fn set_password_hash(ex: Exec<'_>, id: i64, hash: &str, now: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
        .bind(hash)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("update password hash")?;
    Ok(())
}

/// Replaces the hash only if it is still `old_hash` (a parameter upgrade must not undo a
/// password change that happened meanwhile).
pub async fn upgrade_password_hash(
    ex: Exec<'_>,
    id: i64,
    old_hash: &str,
    new_hash: &str,
) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
        .bind(new_hash)
        .bind(id)
        .bind(old_hash)
        .execute(c)
        .await
        .map(|_| ()))
    .context("upgrade password hash")?;
    Ok(())
}

/// Replaces the avatar (after a provider sign-in brought a new one).
pub async fn set_avatar(ex: Exec<'_>, id: i64, avatar_url: Option<&str>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE users SET avatar_url = $1 WHERE id = $2")
        .bind(avatar_url)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("update avatar")
}

pub async fn set_role(ex: Exec<'_>, id: i64, role: Role, now: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE users SET role = $1, updated_at = $2 WHERE id = $3")
        .bind(role.as_str())
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("update role")?;
    Ok(())
}

pub async fn count_with_role(ex: Exec<'_>, role: Role) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE role = $1")
        .bind(role.as_str())
        .fetch_one(c)
        .await)
    .context("count users by role")
}

pub async fn delete(ex: Exec<'_>, id: i64) -> anyhow::Result<bool> {
    let done = on_exec!(ex, c => sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected()))
        .context("delete user")?;
    Ok(done > 0)
}

/// One row an admin action depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoleRow {
    pub id: i64,
    pub role: Role,
    /// Disabled at the moment the row was read (and locked).
    pub disabled: bool,
}

/// The rows an admin action depends on — every owner, the actor and the target — read
/// inside the action's transaction. PostgreSQL locks them (in id order, so two actions
/// never deadlock) until the transaction ends, and reads each locked row as it is once
/// the lock is granted (so of two owners disabling each other at once, the second sees
/// the first's change); SQLite's `BEGIN IMMEDIATE` already serialises writers, and it
/// has no `FOR UPDATE`.
pub async fn lock_role_rows(
    ex: Exec<'_>,
    actor_id: i64,
    target_id: i64,
    now: i64,
) -> anyhow::Result<Vec<RoleRow>> {
    macro_rules! select {
        ($lock:literal) => {
            concat!(
                "SELECT id, role, disabled_at, disabled_until FROM users ",
                "WHERE role = 'owner' OR id = $1 OR id = $2 ORDER BY id",
                $lock
            )
        };
    }
    type Row = (i64, String, Option<i64>, Option<i64>);
    let rows: Vec<Row> = match ex {
        Exec::Sqlite(c) => {
            sqlx::query_as(select!(""))
                .bind(actor_id)
                .bind(target_id)
                .fetch_all(c)
                .await
        }
        Exec::Postgres(c) => {
            sqlx::query_as(select!(" FOR UPDATE"))
                .bind(actor_id)
                .bind(target_id)
                .fetch_all(c)
                .await
        }
    }
    .context("lock users for an admin action")?;
    Ok(rows
        .into_iter()
        .map(|(id, role, disabled_at, disabled_until)| RoleRow {
            id,
            role: stored_role(&role),
            disabled: disabled_at.is_some() && disabled_until.is_none_or(|until| until > now),
        })
        .collect())
}

/// Owners whose accounts are not disabled at `now`.
pub async fn count_enabled_owners(ex: Exec<'_>, now: i64) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE role = 'owner' \
         AND (disabled_at IS NULL OR (disabled_until IS NOT NULL AND disabled_until <= $1))",
    )
    .bind(now)
    .fetch_one(c)
    .await)
    .context("count enabled owners")
}

/// A user as the admin table lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedUser {
    pub id: i64,
    pub username: String,
    pub role: String,
    pub created_at: i64,
    pub last_seen_at: Option<i64>,
    pub has_password: i64,
    pub has_github: i64,
    pub has_google: i64,
    /// The shared sign-in counter's lock, in unix milliseconds (0 when none).
    pub locked_until_ms: i64,
    /// The shared counter's attempts since the last success.
    pub failed_attempts: i64,
    /// 1 when two-factor sign-in is on.
    pub two_factor: i64,
    pub disabled_at: Option<i64>,
    pub disabled_until: Option<i64>,
    pub disabled_reason: Option<String>,
}

/// Escapes `%`, `_` and `\` so user input matches literally in `LIKE … ESCAPE '\'`.
pub fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Users whose username key starts with `key_prefix`, in a stable order, one page.
pub async fn search(
    ex: Exec<'_>,
    key_prefix: &str,
    only_disabled: bool,
    limit: i64,
    offset: i64,
    now: i64,
) -> anyhow::Result<Vec<ListedUser>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT u.id, u.username, u.role, u.created_at, \
                (SELECT MAX(s.last_seen_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at, \
                CAST(CASE WHEN u.password_hash IS NULL THEN 0 ELSE 1 END AS BIGINT) AS has_password, \
                CAST(CASE WHEN EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id AND o.provider = 'github') \
                     THEN 1 ELSE 0 END AS BIGINT) AS has_github, \
                CAST(CASE WHEN EXISTS (SELECT 1 FROM oauth_accounts o WHERE o.user_id = u.id AND o.provider = 'google') \
                     THEN 1 ELSE 0 END AS BIGINT) AS has_google, \
                CAST(COALESCE((SELECT t.locked_until_ms FROM login_throttle t WHERE t.key = u.username_key), 0) AS BIGINT) \
                     AS locked_until_ms, \
                CAST(COALESCE((SELECT t.failures FROM login_throttle t WHERE t.key = u.username_key), 0) AS BIGINT) \
                     AS failed_attempts, \
                CAST(CASE WHEN EXISTS (SELECT 1 FROM totp_factors f WHERE f.user_id = u.id AND f.confirmed_at IS NOT NULL) \
                     THEN 1 ELSE 0 END AS BIGINT) AS two_factor, \
                u.disabled_at, u.disabled_until, u.disabled_reason \
         FROM users u WHERE u.username_key LIKE $1 ESCAPE '\\' \
           AND ($4 = 0 OR (u.disabled_at IS NOT NULL AND (u.disabled_until IS NULL OR u.disabled_until > $5))) \
         ORDER BY u.username_key, u.id LIMIT $2 OFFSET $3",
    )
    .bind(like_prefix(key_prefix))
    .bind(limit)
    .bind(offset)
    .bind(i64::from(only_disabled))
    .bind(now)
    .fetch_all(c)
    .await)
    .context("search users")
}

/// How many users [`search`] would list in all.
pub async fn count_matching(
    ex: Exec<'_>,
    key_prefix: &str,
    only_disabled: bool,
    now: i64,
) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE username_key LIKE $1 ESCAPE '\\' \
         AND ($2 = 0 OR (disabled_at IS NOT NULL AND (disabled_until IS NULL OR disabled_until > $3)))",
    )
        .bind(like_prefix(key_prefix))
        .bind(i64::from(only_disabled))
        .bind(now)
        .fetch_one(c)
        .await)
    .context("count users")
}

#[cfg(test)]
mod tests {
    use super::like_prefix;

    #[test]
    fn like_wildcards_in_a_search_match_literally() {
        assert_eq!(like_prefix("al"), "al%");
        assert_eq!(like_prefix("a_b"), "a\\_b%");
        assert_eq!(like_prefix("100%"), "100\\%%");
        assert_eq!(like_prefix("a\\b"), "a\\\\b%");
        assert_eq!(like_prefix(""), "%");
    }
}
