//! Accounts: sign-up, sign-in with a password, replacing a password, and accounts made
//! on the command line; `providers` holds the rules for GitHub and Google accounts.
//! Every sign-in ends in [`sessions::start`] after its checks.

pub mod providers;

use super::{
    device,
    password::Verified,
    sessions::{self, How},
    throttle::{self, Action, Attempts},
    two_factor::{self, FirstFactor, SignIn},
};
use crate::{
    domain::{normalise_for_verification, Password, SecretString, Username},
    model::{AppError, AuditKind, ErrorKind, Role, SessionUser, MSG_USERNAME_TAKEN},
    server::{
        audit::{self, Event},
        context::RequestCtx,
        db::{
            self,
            users::{self, Inserted, NewUser, UserRow},
            Tx,
        },
        identity::factors::Proof,
    },
};

use super::password::choice::breached_check;

/// Creates an account and signs it in with a brand-new session. With an address (as
/// `GATEHOUSE_SIGNUP_EMAIL` allows or requires), a verification link goes to it.
pub async fn sign_up(
    ctx: &RequestCtx,
    username: &str,
    password: &SecretString,
    email: Option<&str>,
) -> Result<SessionUser, AppError> {
    let state = &ctx.state;
    let taken = || AppError::conflict(MSG_USERNAME_TAKEN).on_field("username");
    let mut conn = state.db.conn().await?;
    throttle::check_client(conn.exec(), ctx, Action::SignUp)
        .await?
        .or_refuse()?;
    let name =
        Username::parse(username).map_err(|e| AppError::bad_request(e.to_string()).on_field("username"))?;
    let password = Password::parse(password, &name, state.config.password_min_length)
        .map_err(|e| AppError::bad_request(e.to_string()).on_field("password"))?;
    let email = super::email::signup_address(ctx, email).map_err(|e| e.on_field("email"))?;
    // A cheap early answer for the common case; the UNIQUE constraint below still
    // decides races between concurrent sign-ups.
    if users::key_exists(conn.exec(), name.key()).await? {
        return Err(taken());
    }
    drop(conn);
    breached_check(ctx, &password)
        .await
        .map_err(|e| e.on_field("password"))?;

    let hash = state.hasher.hash(&password).await?;
    let mut tx = state.db.begin().await?;
    let mut new_user = NewUser::with_password(&name, &hash, state.config.default_role);
    new_user.profile.email = email.as_ref().map(|e| e.as_str());
    let user = match users::insert(tx.exec(), &new_user, ctx.now()).await? {
        Inserted::Created(user) => user,
        Inserted::Taken => return Err(taken()),
        Inserted::EmailTaken => {
            return Err(AppError::conflict(crate::model::MSG_EMAIL_TAKEN).on_field("email"))
        }
    };
    if let Some(email) = &email {
        super::email::after_signup(&mut tx, ctx, user.id, &user.username, email.as_str()).await?;
    }
    sessions::start(tx, ctx, &user, How::SignUp, users::FIRST_CREDENTIALS_VERSION).await?;
    state.mailer.wake();
    Ok(user)
}

/// Checks a username and password and, when they match, opens a brand-new session —
/// or, for a user with two-factor sign-in on, a pending sign-in that the second factor
/// completes (then to `next`). Every failure — unknown user, wrong password,
/// OAuth-only account, malformed input — gives the same message and, for well-formed
/// input, costs the same argon2 work.
pub async fn sign_in(
    ctx: &RequestCtx,
    username: &str,
    password: &SecretString,
    next: &str,
) -> Result<SignIn, AppError> {
    let state = &ctx.state;
    // The client's allowance first: it bounds all the work below, and a refusal takes
    // no write lock (a flood of refused requests must not queue real sign-ins).
    let mut conn = state.db.conn().await?;
    throttle::check_client(conn.exec(), ctx, Action::SignIn)
        .await?
        .or_refuse()?;
    drop(conn);
    // Before any hashing, one short transaction decides whether this attempt may be
    // checked at all, and keeps what it decided (a counted attempt, an audited refusal).
    let mut tx = state.db.begin().await?;
    let admitted = admit(&mut tx, ctx, username, password).await;
    if !matches!(&admitted, Err(e) if e.kind == ErrorKind::Internal) {
        tx.commit().await?;
    }
    let Admitted {
        password,
        user,
        attempts,
    } = admitted?;

    // No connection is held while hashing: sign-ins queued for the hasher must not
    // starve the pages of connections.
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = state.hasher.verify(&password, stored).await?;
    let upgraded = match &user {
        Some(user) if verified.matches => rehash(ctx, user, &password, &verified).await,
        _ => None,
    };

    let mut tx = state.db.begin().await?;
    let user = match user {
        Some(user) if verified.matches => user,
        other => {
            // The attempt is counted already. The typed name is recorded only when it
            // is an account: people type passwords into the username field, and those
            // must not end up in the log.
            let event = match &other {
                Some(u) => Event::about(AuditKind::LoginFailure, u.id, &u.username).detail("wrong password"),
                None => Event::anonymous(AuditKind::LoginFailure).detail("unknown username"),
            };
            audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
            tx.commit().await?;
            crate::server::metrics::sign_in("password", "failure");
            return Err(AppError::bad_credentials());
        }
    };
    if let (Some(new_hash), Some(old_hash)) = (&upgraded, &user.password_hash) {
        users::upgrade_password_hash(tx.exec(), user.id, old_hash, new_hash).await?;
        tracing::info!(user_id = user.id, "password hash upgraded");
    }
    // The version read before the password was checked: a change to the account made
    // while it was being checked ends this sign-in (`sessions::start`).
    // With a second factor to come, the attempts are forgotten only once it is right.
    let proven = two_factor::FirstFactorProven {
        user: &user.to_session_user(),
        first: FirstFactor::Password,
        next,
        credentials_version: user.credentials_version,
        attempts: Some(&attempts),
    };
    two_factor::after_first_factor(tx, ctx, proven).await
}

/// A sign-in attempt that may go on to the password check.
struct Admitted {
    password: SecretString,
    user: Option<UserRow>,
    attempts: Attempts,
}

/// The checks before hashing, in `tx`: a name that can exist and a password of an
/// acceptable length (refused without hashing), and a counted attempt on the username's
/// counter.
async fn admit(
    tx: &mut Tx,
    ctx: &RequestCtx,
    username: &str,
    password: &SecretString,
) -> Result<Admitted, AppError> {
    let (Ok(name), Some(password)) = (Username::parse(username), normalise_for_verification(password)) else {
        return Err(AppError::bad_credentials());
    };
    let user = users::find_by_key(tx.exec(), name.key()).await?;
    let device = user.as_ref().and_then(|u| device::trusted(ctx, u.id));
    let attempts = Attempts::for_username(name.key(), device.as_deref());
    let account = user.as_ref().map(|u| (u.id, u.username.as_str()));
    throttle::take_attempt(
        tx.exec(),
        &attempts,
        ctx.state.config.limits.login_max_failures,
        &ctx.client,
        ctx.now_ms,
        account,
    )
    .await?
    .or_refuse()?;
    Ok(Admitted {
        password,
        user,
        attempts,
    })
}

/// A hash with today's parameters for a password that matched an outdated one; `None`
/// when none is needed or hashing failed (the old hash stays valid; only logged).
async fn rehash(
    ctx: &RequestCtx,
    user: &UserRow,
    password: &SecretString,
    verified: &Verified,
) -> Option<String> {
    if !verified.needs_rehash {
        return None;
    }
    // The policy may have tightened since; an upgrade changes the hash, never the password.
    let password = Password::already_verified(password.clone());
    match ctx.state.hasher.hash(&password).await {
        Ok(hash) => Some(hash),
        Err(e) => {
            tracing::warn!(user_id = user.id, error = %e, "password hash upgrade failed");
            None
        }
    }
}

/// Checks the current password of a signed-in user who has one, typed into the form
/// field `field`. It costs a hash, so it is limited like a sign-in (the client's
/// allowance and the account's, [`throttle::password_work`]), and it counts as a sign-in
/// attempt before hashing, so a stolen session can't be used to guess the password.
///
/// A right password does not clear the lock-out counter: the caller does
/// (`throttle::succeeded` with the answer) once every factor it asks for was right, so a
/// right password never wipes out the wrong codes typed with it.
pub async fn confirm_password(
    ctx: &RequestCtx,
    user: &users::UserRow,
    typed: &SecretString,
    field: &str,
) -> Result<Attempts, AppError> {
    let state = &ctx.state;
    let wrong =
        || AppError::new(ErrorKind::Forbidden, "Your current password is not correct.").on_field(field);
    throttle::password_work(ctx, user.id).await?;
    let attempts = throttle::attempt_for(ctx, user).await?;
    let Some(typed) = normalise_for_verification(typed) else {
        return Err(wrong());
    };
    let verified = state.hasher.verify(&typed, user.password_hash.as_deref()).await?;
    if !verified.matches {
        return Err(wrong());
    }
    Ok(attempts)
}

/// Confirms on `/reauth` that the signed-in user is the account's holder, with their
/// password — and, with two-factor sign-in on, a code: the session then counts as
/// recently authenticated. The lock-out counter is cleared only when both were right.
pub async fn reauthenticate(ctx: &RequestCtx, typed: &SecretString, code: &str) -> Result<(), AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    let user = users::find_by_id(conn.exec(), auth.user.id)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    drop(conn);
    if user.password_hash.is_none() {
        return Err(AppError::bad_request(
            "Your account has no password: confirm with a provider you sign in with.",
        ));
    }
    let attempts = confirm_password(ctx, &user, typed, "password").await?;
    let detail = if auth.needs_code_after(Proof::Password) {
        two_factor::check_code(ctx, &user, code).await?;
        "password and code"
    } else {
        "password"
    };
    let mut conn = ctx.state.db.conn().await?;
    throttle::succeeded(conn.exec(), &attempts).await?;
    drop(conn);
    confirmed(ctx, detail).await
}

/// Marks the request's session as recently authenticated (after a password or a
/// provider round-trip proved its holder) and records it.
pub async fn confirmed(ctx: &RequestCtx, how: &str) -> Result<(), AppError> {
    let auth = ctx.user()?;
    let mut tx = ctx.state.db.begin().await?;
    db::sessions::mark_reauthenticated(tx.exec(), &auth.session_id, ctx.now()).await?;
    let event = Event::about(AuditKind::Reauthenticated, auth.user.id, &auth.user.username).detail(how);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(())
}

/// What happens to a user's sessions after their password was replaced (all of them
/// end either way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterPasswordChange {
    /// This browser gets a brand-new session, and a notice goes to the verified address
    /// (the settings page).
    SignInHere,
    /// Nobody stays signed in; no notice (the command line: the operator tells the user).
    SignOutEverywhere,
}

/// Sets a new password (already checked against the policy) and ends every session of
/// the user, in one transaction that also records the change (`detail` says where it
/// was made). Returns how many sessions ended.
pub async fn replace_password(
    ctx: &RequestCtx,
    user: &SessionUser,
    password: &Password,
    detail: &str,
    after: AfterPasswordChange,
) -> Result<u64, AppError> {
    let hash = ctx.state.hasher.hash(password).await?;
    let mut tx = ctx.state.db.begin().await?;
    users::set_password_hash(tx.exec(), user.id, &hash, ctx.now()).await?;
    let version = users::bump_credentials(tx.exec(), user.id).await?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), user.id, None).await?;
    let event = Event::about(AuditKind::PasswordChanged, user.id, &user.username).detail(detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    match after {
        AfterPasswordChange::SignInHere => {
            super::notice::notify(&mut tx, ctx, user.id, super::notice::Notice::PasswordChanged).await?;
            sessions::start(tx, ctx, user, How::PasswordChange, version).await?;
            ctx.state.mailer.wake();
        }
        AfterPasswordChange::SignOutEverywhere => tx.commit().await?,
    }
    Ok(ended)
}

/// Creates an account without signing it in (the command line's `user create`).
pub async fn create_account(
    ctx: &RequestCtx,
    name: &Username,
    password: &Password,
    role: Role,
) -> Result<SessionUser, AppError> {
    let hash = ctx.state.hasher.hash(password).await?;
    let mut tx = ctx.state.db.begin().await?;
    let Inserted::Created(user) =
        users::insert(tx.exec(), &NewUser::with_password(name, &hash, role), ctx.now()).await?
    else {
        return Err(AppError::conflict(MSG_USERNAME_TAKEN));
    };
    let detail = format!("created with role {role} by the command line");
    let event = Event::about(AuditKind::Signup, user.id, &user.username).detail(&detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(user)
}

/// How an account can sign in, read with its user row locked (see [`lock_ways_in`]).
#[derive(Debug)]
pub struct WaysIn {
    pub user: UserRow,
    /// Connected providers (`github`, `google`).
    pub providers: Vec<String>,
    /// Ids of its passkeys.
    pub passkeys: Vec<i64>,
}

impl WaysIn {
    /// Password, providers and passkeys together.
    pub fn count(&self) -> usize {
        usize::from(self.user.password_hash.is_some()) + self.providers.len() + self.passkeys.len()
    }
}

/// Locks the signed-in user's row in `tx` and lists their ways in. Removing a way in is
/// decided with the row locked, so two removals at once (an unlink and a passkey
/// removal, say) are decided one after the other: never both of the last two ways in.
pub async fn lock_ways_in(tx: &mut Tx, user_id: i64) -> Result<WaysIn, AppError> {
    let user = users::lock_by_id(tx.exec(), user_id)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    let providers = db::oauth::for_user(tx.exec(), user_id)
        .await?
        .into_iter()
        .map(|l| l.provider)
        .collect();
    let passkeys = db::passkeys::for_user(tx.exec(), user_id)
        .await?
        .into_iter()
        .map(|p| p.id)
        .collect();
    Ok(WaysIn {
        user,
        providers,
        passkeys,
    })
}
