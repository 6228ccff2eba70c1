//! Queries on `oauth_accounts`: which provider account belongs to which user.

use super::{on_exec, Exec};
use anyhow::Context;

/// A linked provider account.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Link {
    pub provider: String,
    pub provider_user_id: String,
    pub user_id: i64,
    pub display: Option<String>,
    pub created_at: i64,
}

/// The user a provider account is linked to.
pub async fn find(ex: Exec<'_>, provider: &str, provider_user_id: &str) -> anyhow::Result<Option<Link>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT provider, provider_user_id, user_id, display, created_at FROM oauth_accounts \
         WHERE provider = $1 AND provider_user_id = $2",
    )
    .bind(provider)
    .bind(provider_user_id)
    .fetch_optional(c)
    .await)
    .context("find linked account")
}

/// Every provider account linked to a user.
pub async fn for_user(ex: Exec<'_>, user_id: i64) -> anyhow::Result<Vec<Link>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT provider, provider_user_id, user_id, display, created_at FROM oauth_accounts \
         WHERE user_id = $1 ORDER BY provider",
    )
    .bind(user_id)
    .fetch_all(c)
    .await)
    .context("list linked accounts")
}

/// What inserting a link came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Linked {
    Created,
    /// The provider account, or this provider for this user, is linked already.
    Conflict,
}

pub async fn insert(ex: Exec<'_>, link: &Link) -> anyhow::Result<Linked> {
    let result = on_exec!(ex, c => sqlx::query(
        "INSERT INTO oauth_accounts (provider, provider_user_id, user_id, display, created_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&link.provider)
    .bind(&link.provider_user_id)
    .bind(link.user_id)
    .bind(&link.display)
    .bind(link.created_at)
    .execute(c)
    .await
    .map(|_| ()));
    match result {
        Ok(()) => Ok(Linked::Created),
        Err(e) if super::is_unique_violation(&e) => Ok(Linked::Conflict),
        Err(e) => Err(e).context("link provider account"),
    }
}

/// Unlinks a user's account at `provider`; true when there was one.
pub async fn delete(ex: Exec<'_>, user_id: i64, provider: &str) -> anyhow::Result<bool> {
    let n = on_exec!(ex, c => sqlx::query("DELETE FROM oauth_accounts WHERE user_id = $1 AND provider = $2")
        .bind(user_id)
        .bind(provider)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("unlink provider account")?;
    Ok(n > 0)
}
