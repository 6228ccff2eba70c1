//! Two-factor sign-in with an authenticator app (docs/accounts.md "Two-factor sign-in").
//!
//! - Setting up (recent authentication): a new secret, sealed with the server key in
//!   `totp_factors`, waits for a first code; the code turns it on and ten recovery codes
//!   are made (stored as keyed hashes, shown once).
//! - Signing in: with the factor on, a right password (or provider) does not reach
//!   `sessions::start`; it leaves a pending sign-in (server-side, five minutes, found by
//!   the hash of a random handle in this browser's cookie) and the browser goes to
//!   `/login/two-factor`. A right code completes it; a wrong one counts towards the
//!   username's lock-out, and five end it.
//! - A code is good once: its time step must be later than the last accepted one.

use super::{
    cookie::PrivateCookie,
    sessions::{self, How},
    throttle::{self, Attempts},
    totp::{self, TotpSecret},
};
use crate::{
    model::{
        AppError, AuditKind, ErrorKind, Provider, SecurityOverview, SessionUser, TwoFactorSetup,
        TwoFactorState,
    },
    server::{
        audit::{self, Event},
        context::RequestCtx,
        db::{self, ceremonies, two_factor, users, Exec, Tx},
        identity::{
            ceremony::{self, Handle, Kind},
            factors::{self, Factors, Next, Proof},
        },
        keys::Purpose,
    },
};
use tower_cookies::{cookie::SameSite, Cookie};

/// How long a pending sign-in waits for its code.
pub const PENDING_SECONDS: i64 = 300;
/// Wrong codes a pending sign-in takes before it ends.
const PENDING_MAX_FAILURES: i64 = 5;
/// Message of a code that is not right (or used already).
pub const MSG_INCORRECT_CODE: &str = "Incorrect code";

fn incorrect_code() -> AppError {
    AppError::new(ErrorKind::Unauthorized, MSG_INCORRECT_CODE)
}

fn secret_context(user_id: i64) -> Vec<u8> {
    format!("user {user_id}").into_bytes()
}

fn seal_secret(ctx: &RequestCtx, user_id: i64, secret: &TotpSecret) -> String {
    ctx.state
        .keys
        .seal(Purpose::TotpSecret, &secret_context(user_id), secret.expose())
}

/// Opens a stored secret. One this instance cannot open (resealed by an instance with a
/// newer key, during a rotation) is left as it is and answered with a clear 503: another
/// instance, or this one once it has the key, can still use it.
fn open_secret(ctx: &RequestCtx, user_id: i64, sealed: &str) -> Result<TotpSecret, AppError> {
    ctx.state
        .keys
        .open(Purpose::TotpSecret, &secret_context(user_id), sealed)
        .and_then(TotpSecret::from_bytes)
        .ok_or_else(|| {
            tracing::error!(
                user_id,
                "a two-factor secret does not open with this instance's keys (is \
                 GATEHOUSE_SECRET_KEY the same on every instance?)"
            );
            AppError::new(ErrorKind::Unavailable, MSG_SECRET_UNAVAILABLE)
        })
}

/// The answer when this instance cannot open a user's two-factor secret.
pub const MSG_SECRET_UNAVAILABLE: &str =
    "Two-factor sign-in can't be checked right now. Please try again in a few minutes.";

/// A recovery code's stored forms (under the current key and the previous one).
fn code_hashes(ctx: &RequestCtx, user_id: i64, code: &str) -> Vec<String> {
    ctx.state
        .keys
        .tags(Purpose::RecoveryCode, format!("{user_id}:{code}").as_bytes())
}

/// True when the user has a confirmed factor.
pub async fn is_on(ex: Exec<'_>, user_id: i64) -> anyhow::Result<bool> {
    Ok(two_factor::factor(ex, user_id)
        .await?
        .is_some_and(|f| f.confirmed_at.is_some()))
}

/// What a sign-in of this user must prove beyond its first factor, for
/// [`factors::after`]: whether the authenticator app is on.
pub async fn second_factors(ex: Exec<'_>, user_id: i64) -> anyhow::Result<Factors> {
    Ok(Factors {
        totp: is_on(ex, user_id).await?,
        ..Factors::default()
    })
}

/// What `/settings/security` shows the signed-in user.
pub async fn overview(ctx: &RequestCtx) -> Result<SecurityOverview, AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    let factor = two_factor::factor(conn.exec(), auth.user.id).await?;
    let recovery_codes_left = two_factor::codes_left(conn.exec(), auth.user.id).await?;
    drop(conn);
    let state = match factor {
        None => TwoFactorState::Off,
        Some(f) => match f.confirmed_at {
            Some(since) => TwoFactorState::On { since },
            // An administrator viewing as the user sees no key being set up: it is a
            // secret of the user's, not something the page may show anyone else.
            None if auth.impersonator.is_some() => TwoFactorState::Off,
            None => {
                let secret = open_secret(ctx, auth.user.id, &f.secret_sealed)?;
                // The issuer authenticator apps show next to the account: the app's name.
                let uri = secret.uri(&ctx.state.config.app_name, &auth.user.username);
                TwoFactorState::SettingUp(TwoFactorSetup {
                    key: secret.grouped(),
                    qr_svg: totp::qr_svg(&uri).unwrap_or_default(),
                    uri,
                })
            }
        },
    };
    Ok(SecurityOverview {
        username: auth.user.username.clone(),
        two_factor: state,
        required: ctx.second_factor_required_for(auth.user.role) && !auth.has_strong_sign_in(),
        recovery_codes_left,
        passkeys_enabled: ctx.state.config.passkeys,
        passkeys: super::passkeys::list(ctx, auth.user.id).await?,
    })
}

/// Makes a new secret for the signed-in user to add to an authenticator app (recent
/// authentication). Nothing is on until a first code confirms it.
pub async fn begin_setup(ctx: &RequestCtx) -> Result<(), AppError> {
    let auth = ctx.require_recent()?;
    let secret = TotpSecret::generate();
    let sealed = seal_secret(ctx, auth.user.id, &secret);
    let mut conn = ctx.state.db.conn().await?;
    if !two_factor::begin(conn.exec(), auth.user.id, &sealed, ctx.now()).await? {
        return Err(AppError::conflict("Two-factor sign-in is on already."));
    }
    Ok(())
}

/// Turns the factor on with a first code from the app; answers the recovery codes (to be
/// shown once).
pub async fn confirm_setup(ctx: &RequestCtx, code: &str) -> Result<Vec<String>, AppError> {
    let auth = ctx.require_recent()?;
    let mut tx = ctx.state.db.begin().await?;
    let Some(factor) = two_factor::factor(tx.exec(), auth.user.id).await? else {
        return Err(AppError::bad_request(
            "Start setting up two-factor sign-in first.",
        ));
    };
    if factor.confirmed_at.is_some() {
        return Err(AppError::conflict("Two-factor sign-in is on already."));
    }
    let secret = open_secret(ctx, auth.user.id, &factor.secret_sealed)?;
    let Some(step) = secret.matching_step(code, ctx.now().unsigned_abs()) else {
        return Err(AppError::bad_request(MSG_INCORRECT_CODE));
    };
    // Decided by the update itself: of two confirmations sent at once (a double
    // submit), the second finds the factor on and changes nothing — above all not the
    // recovery codes the first one is showing.
    let confirmed = two_factor::confirm(
        tx.exec(),
        auth.user.id,
        i64::try_from(step).unwrap_or(i64::MAX),
        ctx.now(),
    )
    .await?;
    if !confirmed {
        return Err(AppError::conflict("Two-factor sign-in is on already."));
    }
    let codes = store_new_codes(&mut tx, ctx, auth.user.id).await?;
    let event = Event::about(AuditKind::MfaEnabled, auth.user.id, &auth.user.username);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    super::notice::notify(&mut tx, ctx, auth.user.id, super::notice::Notice::TwoFactorOn).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    tracing::info!(user_id = auth.user.id, "two-factor sign-in turned on");
    Ok(codes)
}

/// Ten new recovery codes for `user_id`, stored (hashed) in `tx`; the old ones are gone.
async fn store_new_codes(tx: &mut Tx, ctx: &RequestCtx, user_id: i64) -> Result<Vec<String>, AppError> {
    let codes: Vec<String> = (0..totp::RECOVERY_CODES)
        .map(|_| totp::new_recovery_code())
        .collect();
    let hashes: Vec<String> = codes
        .iter()
        .filter_map(|code| code_hashes(ctx, user_id, code).into_iter().next())
        .collect();
    two_factor::replace_codes(tx.exec(), user_id, &hashes, ctx.now()).await?;
    Ok(codes.iter().map(|c| totp::show_recovery_code(c)).collect())
}

/// Replaces the recovery codes (recent authentication); answers the new ones.
pub async fn regenerate_codes(ctx: &RequestCtx) -> Result<Vec<String>, AppError> {
    let auth = ctx.require_recent()?;
    let mut tx = ctx.state.db.begin().await?;
    if !is_on(tx.exec(), auth.user.id).await? {
        return Err(AppError::bad_request("Two-factor sign-in is off."));
    }
    let codes = store_new_codes(&mut tx, ctx, auth.user.id).await?;
    let event = Event::about(
        AuditKind::RecoveryCodesRegenerated,
        auth.user.id,
        &auth.user.username,
    );
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    let notice = super::notice::Notice::RecoveryCodesRegenerated;
    super::notice::notify(&mut tx, ctx, auth.user.id, notice).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    Ok(codes)
}

/// Turns the factor off (recent authentication and a current code or a recovery code).
pub async fn disable(ctx: &RequestCtx, code: &str) -> Result<(), AppError> {
    let auth = ctx.require_recent()?;
    let user = user_row(ctx, auth.user.id).await?;
    let attempts = check_code(ctx, &user, code).await?;
    let mut tx = ctx.state.db.begin().await?;
    throttle::succeeded(tx.exec(), &attempts).await?;
    two_factor::remove(tx.exec(), user.id).await?;
    let event = Event::about(AuditKind::MfaDisabled, user.id, &user.username);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    super::notice::notify(&mut tx, ctx, user.id, super::notice::Notice::TwoFactorOff).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    tracing::info!(user_id = user.id, "two-factor sign-in turned off");
    Ok(())
}

/// The row of a user (401 when the account is gone).
pub async fn user_row(ctx: &RequestCtx, user_id: i64) -> Result<users::UserRow, AppError> {
    let mut conn = ctx.state.db.conn().await?;
    users::find_by_id(conn.exec(), user_id)
        .await?
        .ok_or_else(AppError::unauthorized)
}

/// Checks a code (six digits from the app, or a recovery code) of a user whose factor is
/// on, once: the attempt counts towards the username's lock-out before it is checked,
/// the code's step (or the recovery code) is used up by a right answer, and a wrong one
/// is recorded (`mfa_failed`, counted per user and window).
///
/// A right code does not clear the lock-out counter: the caller does
/// (`throttle::succeeded` with the answer) once every factor of its ceremony was right.
pub async fn check_code(ctx: &RequestCtx, user: &users::UserRow, code: &str) -> Result<Attempts, AppError> {
    let state = &ctx.state;
    let attempts = throttle::attempt_for(ctx, user).await?;

    let mut tx = state.db.begin().await?;
    let right = match two_factor::factor(tx.exec(), user.id).await? {
        Some(factor) if factor.confirmed_at.is_some() => {
            let secret = open_secret(ctx, user.id, &factor.secret_sealed)?;
            match secret.matching_step(code, ctx.now().unsigned_abs()) {
                Some(step) => {
                    let step = i64::try_from(step).unwrap_or(i64::MAX);
                    let fresh = two_factor::use_step(tx.exec(), user.id, step).await?;
                    if fresh
                        && state.keys.sealed_with_previous(
                            Purpose::TotpSecret,
                            &secret_context(user.id),
                            &factor.secret_sealed,
                        )
                    {
                        two_factor::reseal(tx.exec(), user.id, &seal_secret(ctx, user.id, &secret)).await?;
                    }
                    fresh
                }
                None => match totp::normalise_recovery_code(code) {
                    Some(recovery) => {
                        let hashes = code_hashes(ctx, user.id, &recovery);
                        let used = two_factor::use_code(tx.exec(), user.id, &hashes, ctx.now()).await?;
                        if used {
                            let event = Event::about(AuditKind::RecoveryCodeUsed, user.id, &user.username);
                            audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
                        }
                        used
                    }
                    None => false,
                },
            }
        }
        _ => false,
    };
    if right {
        tx.commit().await?;
        return Ok(attempts);
    }
    let key = format!("user:{}", user.id);
    let event = Event::about(AuditKind::MfaFailed, user.id, &user.username)
        .detail("wrong or used code")
        .coalesced(&key);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    crate::server::metrics::sign_in("two_factor", "failure");
    Err(incorrect_code())
}

/// How a pending sign-in's first factor was proven (stored with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstFactor {
    Password,
    Provider(Provider),
}

impl FirstFactor {
    fn as_str(self) -> &'static str {
        match self {
            FirstFactor::Password => "password",
            FirstFactor::Provider(p) => p.as_str(),
        }
    }

    fn parse(stored: &str) -> FirstFactor {
        stored
            .parse::<Provider>()
            .map(FirstFactor::Provider)
            .unwrap_or(FirstFactor::Password)
    }

    fn proof(self) -> Proof {
        match self {
            FirstFactor::Password => Proof::Password,
            FirstFactor::Provider(_) => Proof::Provider,
        }
    }

    fn how(self) -> How {
        match self {
            FirstFactor::Password => How::Password,
            FirstFactor::Provider(provider) => How::Provider {
                provider,
                new_account: false,
            },
        }
    }
}

/// What a right first factor came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: a session was issued.
    Complete(SessionUser),
    /// The second factor is still to come, at `/login/two-factor`.
    SecondFactorPending,
}

/// The pending sign-in's cookie (`__Host-gatehouse_pending` over https).
const PENDING_COOKIE: PrivateCookie = PrivateCookie {
    plain: "gatehouse_pending",
    host: "__Host-gatehouse_pending",
    same_site: SameSite::Lax,
};

fn pending_cookie_name(ctx: &RequestCtx) -> &'static str {
    PENDING_COOKIE.name(ctx.state.config.https)
}

fn pending_cookie(ctx: &RequestCtx, value: String, max_age: i64) -> Cookie<'static> {
    PENDING_COOKIE.build(ctx.state.config.https, value, max_age)
}

/// The first factor of a sign-in, as [`after_first_factor`] is given it.
pub struct FirstFactorProven<'a> {
    pub user: &'a SessionUser,
    pub first: FirstFactor,
    /// Where to go once signed in.
    pub next: &'a str,
    /// The user's credentials version read before the factor was checked.
    pub credentials_version: i64,
    /// The lock-out attempts the factor counted on: cleared when it completes the
    /// sign-in, kept for the code otherwise (a right password never wipes out the wrong
    /// codes typed with it).
    pub attempts: Option<&'a Attempts>,
}

/// Finishes a right first factor as [`factors::after`] decides: a session (through
/// `sessions::start`) when it proves every factor the account has, a pending sign-in
/// that waits for the code otherwise. `tx` holds whatever the sign-in wrote so far.
pub async fn after_first_factor(
    mut tx: Tx,
    ctx: &RequestCtx,
    proven: FirstFactorProven<'_>,
) -> Result<SignIn, AppError> {
    let FirstFactorProven {
        user,
        first,
        next,
        credentials_version,
        attempts,
    } = proven;
    let account = second_factors(tx.exec(), user.id).await?;
    if factors::after(first.proof(), account) == Next::Complete {
        if let Some(attempts) = attempts {
            throttle::succeeded(tx.exec(), attempts).await?;
        }
        sessions::start(tx, ctx, user, first.how(), credentials_version).await?;
        return Ok(SignIn::Complete(user.clone()));
    }
    // A disabled account is told now, not after its code.
    sessions::ensure_enabled(tx.exec(), user.id, ctx.now()).await?;
    let handle = Handle::generate();
    let now = ctx.now();
    ceremonies::begin(
        tx.exec(),
        &ceremonies::NewCeremony {
            id: &handle.id(),
            kind: Kind::SecondFactor,
            user_id: Some(user.id),
            payload: first.as_str(),
            next,
            credentials_version,
            expires_at: now + PENDING_SECONDS,
            now,
        },
    )
    .await?;
    tx.commit().await?;
    ctx.cookies
        .add(pending_cookie(ctx, handle.expose().to_owned(), PENDING_SECONDS));
    crate::server::metrics::sign_in(first.as_str(), "second_factor");
    Ok(SignIn::SecondFactorPending)
}

/// True when this browser has a pending sign-in that has not expired.
pub async fn has_pending(ctx: &RequestCtx) -> Result<bool, AppError> {
    let Some(handle) = ctx.cookies.get(pending_cookie_name(ctx)) else {
        return Ok(false);
    };
    let mut conn = ctx.state.db.conn().await?;
    let id = ceremony::id_of(handle.value());
    let row = ceremonies::peek(conn.exec(), &id, Kind::SecondFactor, ctx.now()).await?;
    Ok(row.is_some())
}

/// Completes this browser's pending sign-in with a code: the session is issued, and
/// the answer is where to go. Each code counts against the pending sign-in before it is
/// checked (one atomic update), so of any number of codes sent at once at most five are
/// ever checked; the fifth wrong one ends it.
pub async fn complete(ctx: &RequestCtx, code: &str) -> Result<String, AppError> {
    let Some(handle) = ctx
        .cookies
        .get(pending_cookie_name(ctx))
        .map(|c| c.value().to_owned())
    else {
        return Err(sessions::sign_in_ended());
    };
    let id = ceremony::id_of(&handle);
    let mut conn = ctx.state.db.conn().await?;
    let kind = Kind::SecondFactor;
    let taken = ceremonies::try_once(conn.exec(), &id, kind, PENDING_MAX_FAILURES, ctx.now()).await?;
    drop(conn);
    let Some(pending) = taken else {
        ctx.cookies.add(pending_cookie(ctx, String::new(), 0));
        return Err(sessions::sign_in_ended());
    };
    let Some(user_id) = pending.user_id else {
        return Err(sessions::sign_in_ended());
    };
    let user = user_row(ctx, user_id).await?;
    let attempts = match check_code(ctx, &user, code).await {
        Ok(attempts) => attempts,
        Err(error) => {
            if error.kind == ErrorKind::Unauthorized && pending.failures >= PENDING_MAX_FAILURES {
                let mut conn = ctx.state.db.conn().await?;
                ceremonies::end(conn.exec(), &id).await?;
                ctx.cookies.add(pending_cookie(ctx, String::new(), 0));
                return Err(AppError::new(
                    ErrorKind::Unauthorized,
                    "Too many wrong codes. Please sign in again.",
                ));
            }
            return Err(error);
        }
    };
    let mut tx = ctx.state.db.begin().await?;
    // Ended here once: two requests with two right codes can't both sign in.
    if !ceremonies::end(tx.exec(), &id).await? {
        return Err(sessions::sign_in_ended());
    }
    throttle::succeeded(tx.exec(), &attempts).await?;
    let session_user = user.to_session_user();
    let how = FirstFactor::parse(&pending.payload).how();
    let started = sessions::start(tx, ctx, &session_user, how, pending.credentials_version).await;
    ctx.cookies.add(pending_cookie(ctx, String::new(), 0));
    started?;
    Ok(crate::domain::LocalPath::or_profile(Some(&pending.next)))
}

/// Removes a user's factor and recovery codes and ends their sessions (the command
/// line's `user reset-2fa`); true when there was a factor.
pub async fn reset(ctx: &RequestCtx, user: &users::UserRow) -> Result<bool, AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let removed = two_factor::remove(tx.exec(), user.id).await?;
    users::bump_credentials(tx.exec(), user.id).await?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), user.id, None).await?;
    let detail = format!("by the command line; {}", crate::model::sessions_ended(ended));
    let event = Event::about(AuditKind::MfaReset, user.id, &user.username).detail(&detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(removed)
}
