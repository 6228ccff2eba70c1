//! Lucia-style database sessions (docs/accounts.md "Accounts and sessions").
//!
//! The browser holds a random token; the database holds only hex(SHA-256(token)). A
//! stolen database therefore yields no usable cookie, and looking a session up compares
//! hashes, whose values an attacker cannot steer byte by byte.
//!
//! [`start`] is the one place a session is issued: every way of signing in ends there,
//! after its own checks. [`end`] is sign-out.

use crate::{
    model::{AppError, AuditKind, ErrorKind, Provider, SessionUser, MSG_DISABLED, MSG_SIGN_IN_ENDED},
    server::{
        audit::{self, Event},
        auth::device,
        config::SessionPolicy,
        context::RequestCtx,
        db::{self, sessions, sessions::SessionWithUser, users::stored_role, Db, Exec, Tx},
        http::client::ClientInfo,
        identity::session::Impersonator,
    },
};
use anyhow::Context;
use data_encoding::BASE32_NOPAD;
use sha2::{Digest, Sha256};
use std::{fmt, sync::Arc};

pub use crate::server::identity::session::{Authenticated, CurrentSession};

/// Bytes of randomness in a token: 200 bits, above the 160 the spec asks for.
const TOKEN_BYTES: usize = 25;
const _: () = assert!(TOKEN_BYTES * 8 >= 160, "tokens carry at least 160 bits");
/// Characters of the encoded token (base32 of 25 bytes).
const TOKEN_CHARS: usize = 40;
/// `last_seen_at` is written at most this often per session.
pub const LAST_SEEN_EVERY_SECONDS: i64 = 60;

/// The secret a browser presents. Printing it shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

impl SessionToken {
    /// A new token from the operating system's CSPRNG, lowercase base32.
    pub fn generate() -> SessionToken {
        let mut bytes = [0u8; TOKEN_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        SessionToken(BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }

    /// Accepts a cookie value only if it has the exact shape of our tokens, so junk
    /// never reaches the database.
    pub fn parse(value: &str) -> Option<SessionToken> {
        let well_formed = value.len() == TOKEN_CHARS
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
        well_formed.then(|| SessionToken(value.to_owned()))
    }

    /// The stored session id: lowercase hex SHA-256 of the token.
    pub fn id(&self) -> String {
        session_id(&self.0)
    }

    /// The token itself, for the cookie and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Lowercase hex SHA-256 of a token.
pub fn session_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A freshly created session: the token goes into the cookie, never into storage.
#[derive(Debug)]
pub struct NewSession {
    pub token: SessionToken,
    pub expires_at: i64,
}

/// What a new session row holds besides its token.
pub(super) struct Grant<'a> {
    pub user_id: i64,
    pub expires_at: i64,
    /// The user's credentials version the session is issued under.
    pub credentials_version: i64,
    /// When its holder last passed every factor (see [`Authenticated::confirmed_at`]),
    /// when not at its creation: the replaced session's, for a session that replaces
    /// another; `None` for a sign-in (it is the confirmation).
    pub confirmed_at: Option<i64>,
    /// For a "view as" session: the admin's own session and the admin.
    pub impersonator: Option<(&'a str, i64)>,
}

/// Stores a new session row, in the caller's transaction ([`start`] and, for "view
/// as", `view_as::start` are the only callers).
pub(super) async fn create(
    ex: Exec<'_>,
    client: &ClientInfo,
    grant: &Grant<'_>,
    now: i64,
) -> anyhow::Result<NewSession> {
    let token = SessionToken::generate();
    let mut handle_bytes = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut handle_bytes);
    let handle = hex::encode(handle_bytes);
    let user_agent = client.user_agent_truncated();
    sessions::insert(
        ex,
        &sessions::NewSession {
            id: &token.id(),
            handle: &handle,
            user_id: grant.user_id,
            created_at: now,
            expires_at: grant.expires_at,
            ip: client.ip.as_deref(),
            user_agent: user_agent.as_deref(),
            impersonator: grant.impersonator,
            credentials_version: grant.credentials_version,
            confirmed_at: grant.confirmed_at,
        },
    )
    .await?;
    Ok(NewSession {
        token,
        expires_at: grant.expires_at,
    })
}

pub(super) fn seconds(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4)
}

/// What validating a token came to.
#[derive(Debug)]
pub enum Validation {
    /// No such session, or it expired (and was deleted): the cookie should be cleared.
    Invalid,
    Valid {
        auth: Arc<Authenticated>,
        /// Set when the expiry moved: the cookie must be re-set with this expiry.
        renewed_until: Option<i64>,
    },
}

/// The times of a session that its upkeep depends on (unix seconds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionTimes {
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

/// What a valid-looking session needs when it is presented at some moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upkeep {
    /// Past its expiry or past the absolute cap: deleted, and the cookie cleared.
    Expired,
    /// Less than `GATEHOUSE_SESSION_RENEW_WITHIN` left: the expiry moves to `until` (now
    /// plus the lifetime, never past the absolute cap), and the cookie is set again.
    Renew { until: i64 },
    /// Its `last_seen_at` is a minute old or more: it is written.
    Touch,
    /// Nothing to write.
    Nothing,
}

/// The session rules at `now` (sliding expiry, the absolute cap, the once-a-minute
/// `last_seen_at`), apart from the database: [`validate`] carries them out.
pub fn upkeep(times: SessionTimes, policy: &SessionPolicy, now: i64) -> Upkeep {
    let absolute_end = times.created_at.saturating_add(seconds(policy.absolute));
    if times.expires_at <= now || absolute_end <= now {
        Upkeep::Expired
    } else if times.expires_at - now < seconds(policy.renew_within) && times.expires_at < absolute_end {
        Upkeep::Renew {
            until: now.saturating_add(seconds(policy.ttl)).min(absolute_end),
        }
    } else if now - times.last_seen_at >= LAST_SEEN_EVERY_SECONDS {
        Upkeep::Touch
    } else {
        Upkeep::Nothing
    }
}

/// Validates a token at `now` with one indexed query; writes only when [`upkeep`] says
/// so (renewal, expiry, or the once-a-minute `last_seen_at`).
pub async fn validate(
    db: &Db,
    policy: &SessionPolicy,
    token: &SessionToken,
    now: i64,
) -> anyhow::Result<Validation> {
    let id = token.id();
    let Some(row) = db.find_session(&id).await? else {
        return Ok(Validation::Invalid);
    };
    if row.impersonator_session.is_some() {
        // A "view as" token is only good in its own cookie, beside the admin's session.
        return Ok(Validation::Invalid);
    }
    let times = SessionTimes {
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_seen_at: row.last_seen_at,
    };
    let mut renewed_until = None;
    match upkeep(times, policy, now) {
        Upkeep::Expired => {
            let mut conn = db.conn().await?;
            sessions::delete(conn.exec(), &id).await?;
            return Ok(Validation::Invalid);
        }
        Upkeep::Renew { until } => {
            let mut conn = db.conn().await?;
            sessions::renew(conn.exec(), &id, until, now).await?;
            renewed_until = Some(until);
        }
        Upkeep::Touch => {
            let mut conn = db.conn().await?;
            sessions::touch(conn.exec(), &id, now).await?;
        }
        Upkeep::Nothing => {}
    }
    let auth = Arc::new(authenticated(id, row));
    Ok(Validation::Valid { auth, renewed_until })
}

/// The signed-in user of a session row with the stored id `id`.
pub(super) fn authenticated(id: String, row: SessionWithUser) -> Authenticated {
    Authenticated {
        session_id: id,
        session_handle: row.handle,
        signed_in_at: row.created_at,
        confirmed_at: row.reauthenticated_at.unwrap_or(row.created_at),
        two_factor: row.two_factor != 0,
        has_passkey: row.has_passkey != 0,
        user: SessionUser {
            id: row.user_id,
            username: row.username,
            role: stored_role(&row.role),
            display_name: row.display_name,
            avatar_url: row.avatar_url,
            created_at: row.user_created_at,
            email_unverified: row.email_unverified != 0,
            viewed_by: None,
        },
        impersonator: None,
    }
}

/// How a sign-in proved who the user is. It decides what the audit trail records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// A new account with a password, signed in at once (`signup`).
    SignUp,
    /// Username and password (`login_success` with detail `password`).
    Password,
    /// A provider's account (`login_success`; `signup` first when the sign-in created
    /// the account).
    Provider { provider: Provider, new_account: bool },
    /// A passkey, verified with user verification: both factors at once
    /// (`login_success` with detail `passkey`).
    Passkey,
    /// A new session after a password change, which ended every session and was
    /// recorded (`password_changed`) in the same transaction.
    PasswordChange,
    /// A new session after a password reset by e-mail, recorded (`password_reset`) in
    /// the same transaction.
    PasswordReset,
    /// A new session for the browser that signed every other session out, recorded
    /// (`session_revoked`) in the same transaction.
    SignOutEverywhere,
}

impl How {
    /// The `method` label of the sign-in counter.
    fn method(self) -> &'static str {
        match self {
            How::SignUp => "signup",
            How::Password => "password",
            How::Provider { provider, .. } => provider.as_str(),
            How::Passkey => "passkey",
            How::PasswordChange => "password_change",
            How::PasswordReset => "password_reset",
            How::SignOutEverywhere => "sign_out_everywhere",
        }
    }

    /// True for a sign-in to an account that existed before it (not a sign-up, nor a
    /// session that replaced the browser's own).
    fn is_sign_in(self) -> bool {
        match self {
            How::Password | How::Passkey => true,
            How::Provider { new_account, .. } => !new_account,
            How::SignUp | How::PasswordChange | How::PasswordReset | How::SignOutEverywhere => false,
        }
    }

    /// True for the new session of a browser whose session was replaced by its own
    /// action (not a sign-in): it keeps the replaced session's confirmation time.
    fn replaces_own_session(self) -> bool {
        matches!(self, How::PasswordChange | How::SignOutEverywhere)
    }
}

/// Completes a sign-in: the only place a session is issued. In `tx` — which holds
/// whatever the sign-in itself wrote (a new user, a link, a password) — it re-reads the
/// user's row under a lock, ends the session the request came with (a session is never
/// reused), stores the new one and records the sign-in; then it commits, and only once
/// committed sets the cookie.
///
/// Every check (password, provider, second factor) happens before this call: a sign-in
/// that is not yet complete has simply not called it. `credentials_version` is the
/// user's version when those checks began (read with the user they checked): if an event
/// raised it meanwhile — a reset, a password change, "sign out everywhere", a disable —
/// the sign-in ends here with nothing issued.
pub async fn start(
    mut tx: Tx,
    ctx: &RequestCtx,
    user: &SessionUser,
    how: How,
    credentials_version: i64,
) -> Result<(), AppError> {
    let now = ctx.now();
    let check = db::users::lock_for_issue(tx.exec(), user.id)
        .await?
        .ok_or_else(sign_in_ended)?;
    if check.is_disabled(now) {
        crate::server::metrics::sign_in("any", "disabled");
        return Err(AppError::new(ErrorKind::Forbidden, MSG_DISABLED));
    }
    if check.credentials_version != credentials_version {
        tracing::info!(user_id = user.id, how = ?how, "sign-in outlived by a change to the account");
        crate::server::metrics::sign_in(how.method(), "superseded");
        return Err(sign_in_ended());
    }
    let confirmed_at = match (&ctx.session, how.replaces_own_session()) {
        (Some(replaced), true) => Some(replaced.confirmed_at),
        _ => None,
    };
    if let Some(presented) = &ctx.session {
        db::sessions::delete(tx.exec(), &presented.session_id).await?;
    }
    let policy = &ctx.state.config.session;
    let grant = Grant {
        user_id: user.id,
        expires_at: now + seconds(policy.ttl.min(policy.absolute)),
        credentials_version,
        confirmed_at,
        impersonator: None,
    };
    let created = create(tx.exec(), &ctx.client, &grant, now).await?;
    // A sign-in from a browser that has not signed in to the account before is told to
    // the owner (a password someone else knows shows up here).
    let new_device = how.is_sign_in() && device::trusted(ctx, user.id).is_none();
    if new_device {
        super::notice::notify(&mut tx, ctx, user.id, super::notice::Notice::NewDevice).await?;
    }
    let signed_up = Event::about(AuditKind::Signup, user.id, &user.username);
    let signed_in = Event::about(AuditKind::LoginSuccess, user.id, &user.username);
    match how {
        How::SignUp => audit::record(tx.exec(), &ctx.client, ctx.now(), signed_up).await?,
        How::Password => {
            audit::record(tx.exec(), &ctx.client, ctx.now(), signed_in.detail("password")).await?
        }
        How::Passkey => audit::record(tx.exec(), &ctx.client, ctx.now(), signed_in.detail("passkey")).await?,
        How::Provider {
            provider,
            new_account,
        } => {
            if new_account {
                let detail = format!("with {}", provider.label());
                audit::record(tx.exec(), &ctx.client, ctx.now(), signed_up.detail(&detail)).await?;
            }
            audit::record(
                tx.exec(),
                &ctx.client,
                ctx.now(),
                signed_in.detail(provider.label()),
            )
            .await?;
        }
        How::PasswordChange | How::PasswordReset | How::SignOutEverywhere => {}
    }
    tx.commit().await?;
    if new_device {
        ctx.state.mailer.wake();
    }
    ::metrics::counter!(crate::server::metrics::SESSIONS_CREATED).increment(1);
    crate::server::metrics::sign_in(how.method(), "success");
    ctx.state
        .cookie
        .issue(&ctx.cookies, created.token.expose(), created.expires_at, now);
    super::cookie::clear_view(&ctx.cookies, ctx.state.config.https);
    device::remember(ctx, user.id);
    tracing::info!(user_id = user.id, how = ?how, "session started");
    Ok(())
}

/// The answer of a sign-in that something ended before it completed (an expired or
/// superseded pending sign-in, a change to the account during the password check).
pub fn sign_in_ended() -> AppError {
    AppError::new(ErrorKind::Unauthorized, MSG_SIGN_IN_ENDED)
}

/// Refuses (403, `This account is disabled.`) a user whose account is disabled, before a
/// second factor is asked for ([`start`] checks it again, under a lock): the answer says
/// nothing to someone who does not have the credentials.
pub async fn ensure_enabled(ex: Exec<'_>, user_id: i64, now: i64) -> Result<(), AppError> {
    let disabled = db::users::find_by_id(ex, user_id)
        .await?
        .is_some_and(|user| user.is_disabled(now));
    if disabled {
        crate::server::metrics::sign_in("any", "disabled");
        return Err(AppError::new(ErrorKind::Forbidden, MSG_DISABLED));
    }
    Ok(())
}

/// Signs out: ends the request's session (if any) and clears the cookie either way.
/// Signing out while viewing as someone signs the administrator out: their own session
/// ends, and the view with it.
pub async fn end(ctx: &RequestCtx) -> Result<(), AppError> {
    if let Some(auth) = &ctx.session {
        let mut tx = ctx.state.db.begin().await?;
        db::sessions::delete(tx.exec(), &auth.session_id).await?;
        match &auth.impersonator {
            None => {
                let event = Event::about(AuditKind::Logout, auth.user.id, &auth.user.username);
                audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
            }
            Some(admin) => {
                db::sessions::delete(tx.exec(), &admin.session_id).await?;
                record_view_stopped(tx.exec(), ctx, auth, admin, "signed out").await?;
                let event = Event::about(AuditKind::Logout, admin.user_id, &admin.username);
                audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
            }
        }
        tx.commit().await?;
        tracing::info!(user_id = auth.user.id, "signed out");
    }
    ctx.state.cookie.clear(&ctx.cookies);
    super::cookie::clear_view(&ctx.cookies, ctx.state.config.https);
    Ok(())
}

/// Records the end of a view (`impersonation_stopped`), in the caller's transaction.
pub async fn record_view_stopped(
    ex: Exec<'_>,
    ctx: &RequestCtx,
    view: &Authenticated,
    admin: &Impersonator,
    how: &str,
) -> anyhow::Result<()> {
    let event = Event::about(AuditKind::ImpersonationStopped, view.user.id, &view.user.username)
        .actor(admin.user_id)
        .detail(how);
    audit::record(ex, &ctx.client, ctx.now(), event).await
}

/// Deletes sessions expired at `now`; run by the hourly maintenance and `gatehouse
/// sessions purge`.
pub async fn purge_expired(db: &Db, now: i64) -> anyhow::Result<u64> {
    let mut conn = db.conn().await?;
    db::sessions::delete_expired(conn.exec(), now)
        .await
        .context("purge sessions")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_at_least_160_bits_and_a_fixed_shape() {
        let token = SessionToken::generate();
        assert_eq!(token.expose().len(), TOKEN_CHARS);
        assert!(SessionToken::parse(token.expose()).is_some());
        assert_ne!(SessionToken::generate(), token);
    }

    #[test]
    fn malformed_cookie_values_are_not_tokens() {
        let good = SessionToken::generate();
        for bad in [
            "".to_owned(),
            "short".to_owned(),
            good.expose().to_uppercase(),
            format!("{}a", good.expose()),
            good.expose().replacen(|_: char| true, "1", 1),
            "a".repeat(39) + "=",
            "' OR 1=1 --".to_owned(),
        ] {
            assert!(SessionToken::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_session_id_is_the_hex_sha256_of_the_token() {
        // Known vector: SHA-256("abc").
        assert_eq!(
            session_id("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let token = SessionToken::generate();
        assert_eq!(token.id().len(), 64);
        assert_ne!(token.id(), token.expose());
    }

    const DAY: i64 = 86_400;

    /// The defaults: 30 days, renewed within 15, at most 90 from the sign-in.
    fn policy() -> SessionPolicy {
        SessionPolicy {
            ttl: std::time::Duration::from_secs(30 * DAY as u64),
            renew_within: std::time::Duration::from_secs(15 * DAY as u64),
            absolute: std::time::Duration::from_secs(90 * DAY as u64),
            view_as: std::time::Duration::from_secs(3600),
        }
    }

    /// A session signed in at `signed_in`, last renewed or seen at `seen`.
    fn times(signed_in: i64, expires_at: i64, seen: i64) -> SessionTimes {
        SessionTimes {
            created_at: signed_in,
            expires_at,
            last_seen_at: seen,
        }
    }

    #[test]
    fn a_session_is_renewed_when_less_than_half_its_life_is_left() {
        let start = 1_000_000;
        let fresh = times(start, start + 30 * DAY, start);
        assert_eq!(upkeep(fresh, &policy(), start + 30), Upkeep::Nothing);
        assert_eq!(upkeep(fresh, &policy(), start + 60), Upkeep::Touch);
        assert_eq!(upkeep(fresh, &policy(), start + 15 * DAY), Upkeep::Touch);
        // A second inside the renewal window: thirty days from now.
        let now = start + 15 * DAY + 1;
        assert_eq!(
            upkeep(fresh, &policy(), now),
            Upkeep::Renew {
                until: now + 30 * DAY
            }
        );
    }

    #[test]
    fn renewal_never_passes_the_absolute_cap_and_the_cap_ends_the_session() {
        let start = 1_000_000;
        // Renewed on day 70 for thirty days, it would run to day 100: it stops at 90.
        let late = times(start, start + 75 * DAY, start + 69 * DAY);
        assert_eq!(
            upkeep(late, &policy(), start + 70 * DAY),
            Upkeep::Renew {
                until: start + 90 * DAY
            }
        );
        // Already at the cap: no renewal, only the once-a-minute touch.
        let capped = times(start, start + 90 * DAY, start + 80 * DAY);
        assert_eq!(upkeep(capped, &policy(), start + 85 * DAY), Upkeep::Touch);
        assert_eq!(upkeep(capped, &policy(), start + 90 * DAY), Upkeep::Expired);
        // A stored expiry past the cap (an older policy) still ends at the cap.
        let beyond = times(start, start + 120 * DAY, start + 89 * DAY);
        assert_eq!(upkeep(beyond, &policy(), start + 90 * DAY), Upkeep::Expired);
    }

    #[test]
    fn an_expired_session_is_expired_at_its_expiry_to_the_second() {
        let start = 1_000_000;
        let session = times(start, start + 10 * DAY, start);
        assert_ne!(upkeep(session, &policy(), start + 10 * DAY - 1), Upkeep::Expired);
        assert_eq!(upkeep(session, &policy(), start + 10 * DAY), Upkeep::Expired);
    }

    #[test]
    fn tokens_do_not_print() {
        let token = SessionToken::generate();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
