//! Queries on `passkeys` and `passkey_users`.

use super::{on_exec, Exec};
use anyhow::Context;

/// A stored passkey. `credential` is webauthn-rs's serialised credential (public key,
/// counter, flags): nothing secret, but only the server needs it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: i64,
    pub credential_id: String,
    pub user_id: i64,
    pub credential: String,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub sign_count: i64,
    pub backup_eligible: i64,
    pub backup_state: i64,
}

const COLUMNS: &str = "id, credential_id, user_id, credential, name, created_at, last_used_at, \
     CAST(sign_count AS BIGINT) AS sign_count, CAST(backup_eligible AS BIGINT) AS backup_eligible, \
     CAST(backup_state AS BIGINT) AS backup_state";

/// A new passkey to store.
#[derive(Debug)]
pub struct NewPasskey<'a> {
    pub credential_id: &'a str,
    pub user_id: i64,
    pub credential: &'a str,
    pub name: &'a str,
    pub created_at: i64,
    pub sign_count: i64,
    pub backup_eligible: bool,
    pub backup_state: bool,
}

/// Stores a passkey and answers its id; `None` when its credential id is registered
/// already (to anyone).
pub async fn insert(ex: Exec<'_>, new: &NewPasskey<'_>) -> anyhow::Result<Option<i64>> {
    on_exec!(ex, c => sqlx::query_scalar(
        "INSERT INTO passkeys (credential_id, user_id, credential, name, created_at, sign_count, \
         backup_eligible, backup_state) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (credential_id) DO NOTHING RETURNING id",
    )
    .bind(new.credential_id)
    .bind(new.user_id)
    .bind(new.credential)
    .bind(new.name)
    .bind(new.created_at)
    .bind(new.sign_count)
    .bind(i64::from(new.backup_eligible))
    .bind(i64::from(new.backup_state))
    .fetch_optional(c)
    .await)
    .context("store a passkey")
}

pub async fn for_user(ex: Exec<'_>, user_id: i64) -> anyhow::Result<Vec<PasskeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id");
    on_exec!(ex, c => sqlx::query_as(&sql).bind(user_id).fetch_all(c).await).context("list passkeys")
}

pub async fn count_for_user(ex: Exec<'_>, user_id: i64) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys WHERE user_id = $1")
        .bind(user_id)
        .fetch_one(c)
        .await)
    .context("count passkeys")
}

pub async fn by_credential_id(ex: Exec<'_>, credential_id: &str) -> anyhow::Result<Option<PasskeyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1");
    on_exec!(ex, c => sqlx::query_as(&sql).bind(credential_id).fetch_optional(c).await)
        .context("find a passkey")
}

/// Records a sign-in with a passkey: its updated credential (counter), counter, flags,
/// and when. Only if the stored counter is still `previous_count`, so two sign-ins with
/// one counter value can't both be accepted; false otherwise.
pub async fn record_use(
    ex: Exec<'_>,
    id: i64,
    credential: &str,
    previous_count: i64,
    sign_count: i64,
    backup_state: bool,
    now: i64,
) -> anyhow::Result<bool> {
    let changed = on_exec!(ex, c => sqlx::query(
        "UPDATE passkeys SET credential = $2, sign_count = $4, backup_state = $5, last_used_at = $6 \
         WHERE id = $1 AND sign_count = $3",
    )
    .bind(id)
    .bind(credential)
    .bind(previous_count)
    .bind(sign_count)
    .bind(i64::from(backup_state))
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("record a passkey's use")?;
    Ok(changed == 1)
}

/// Renames a user's passkey; false when the user has no such passkey.
pub async fn rename(ex: Exec<'_>, user_id: i64, id: i64, name: &str) -> anyhow::Result<bool> {
    let changed =
        on_exec!(ex, c => sqlx::query("UPDATE passkeys SET name = $3 WHERE id = $2 AND user_id = $1")
        .bind(user_id)
        .bind(id)
        .bind(name)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .context("rename a passkey")?;
    Ok(changed == 1)
}

/// Removes a user's passkey; its name when there was one.
pub async fn delete(ex: Exec<'_>, user_id: i64, id: i64) -> anyhow::Result<Option<String>> {
    on_exec!(ex, c => sqlx::query_scalar("DELETE FROM passkeys WHERE id = $2 AND user_id = $1 RETURNING name")
        .bind(user_id)
        .bind(id)
        .fetch_optional(c)
        .await)
    .context("remove a passkey")
}

/// The user's WebAuthn user handle, if they have one.
pub async fn handle(ex: Exec<'_>, user_id: i64) -> anyhow::Result<Option<String>> {
    on_exec!(ex, c => sqlx::query_scalar("SELECT handle FROM passkey_users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(c)
        .await)
    .context("read a user handle")
}

/// Gives the user `handle` unless they have one already; answers the one they have.
pub async fn ensure_handle(mut ex: Exec<'_>, user_id: i64, handle: &str) -> anyhow::Result<String> {
    on_exec!(ex.reborrow(), c => sqlx::query(
        "INSERT INTO passkey_users (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(handle)
    .execute(c)
    .await
    .map(|_| ()))
    .context("store a user handle")?;
    handle_or_missing(self::handle(ex, user_id).await?)
}

fn handle_or_missing(handle: Option<String>) -> anyhow::Result<String> {
    handle.context("the user handle just stored is missing")
}
