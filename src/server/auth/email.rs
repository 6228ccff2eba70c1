//! E-mail flows (docs/email.md "E-mail"): verifying an address, a forgotten password and
//! changing the address. (The security notices are `auth::notice`.)
//!
//! Links carry a random token of 200 bits; only its SHA-256 is stored (`email_tokens`),
//! and a link is used up by one `UPDATE … RETURNING`, so of two requests with one link
//! exactly one gets through. Verification links last 24 hours, reset links one hour.
//! Links go out through the mail queue, rate-limited per recipient address and per
//! client address.

use super::{
    sessions::{self, How, SessionToken},
    throttle::{self, Verdict},
    two_factor,
};
use crate::{
    domain::{EmailAddress, SecretString, Username},
    model::{AppError, AuditKind, EmailState, MSG_EMAIL_TAKEN, MSG_LINK_INVALID},
    server::{
        audit::{self, Event},
        context::RequestCtx,
        db::{
            self,
            email::{LiveToken, NewToken, Purpose, Purposes},
            users::{self, UserRow},
            Db, Exec, Tx,
        },
        identity::factors::{self, Next, Proof},
        mail::{self, Template},
    },
};

/// How long a verification link works.
pub const VERIFY_SECONDS: i64 = 24 * 3600;
/// How long a reset link works.
pub const RESET_SECONDS: i64 = 3600;

fn link_invalid() -> AppError {
    AppError::bad_request(MSG_LINK_INVALID)
}

/// The stored id of a link's token, when the text has the shape of one.
fn token_id(token: &str) -> Option<String> {
    SessionToken::parse(token.trim()).map(|t| t.id())
}

/// What a page with a link shows before it is used.
#[derive(Clone, Debug)]
pub struct LinkCheck {
    /// The link is good.
    pub valid: bool,
    /// A reset for an account with two-factor sign-in on: the form asks for a code.
    pub needs_code: bool,
}

/// Allowance of a client address for asking for mail (`GATEHOUSE_RATE_MAIL_IP`).
async fn client_allowance(ex: Exec<'_>, ctx: &RequestCtx) -> Result<(), AppError> {
    let Some(client_key) = ctx.client.throttle_key() else {
        return Ok(());
    };
    let key = format!("mail:{client_key}");
    let rate = ctx.state.config.limits.rate_mail_ip;
    throttle::take_from(
        ex,
        &ctx.client,
        ctx.now_ms,
        &key,
        rate,
        "mail rate limit for this address",
    )
    .await?
    .or_refuse()
}

/// How many times `GATEHOUSE_RATE_MAIL_ADDRESS` an address may get in all from people
/// who are not its account's signed-in owner.
const ADDRESS_CAP_FACTOR: u32 = 5;

/// Who asks for mail to an address.
#[derive(Clone, Copy, Debug)]
enum Requester {
    /// Anyone, signed out (`/forgot-password`): counted by their client address.
    Anyone,
    /// The signed-in account the mail is about, from its settings (or its sign-up).
    Account(i64),
}

/// Allowance of a recipient address. Each requester has an allowance of their own for
/// the address (`GATEHOUSE_RATE_MAIL_ADDRESS`), so nobody can spend a victim's: a
/// stranger sending reset links to an address uses up the stranger's share, not its
/// owner's. Requests by anyone share a larger cap for the address (five times the rate)
/// that bounds the mail it gets from many addresses; the account's own requests from its
/// settings are not held to that cap, so they always go out.
async fn recipient_allowance(
    tx: &mut Tx,
    ctx: &RequestCtx,
    email: &str,
    requester: Requester,
) -> anyhow::Result<Verdict> {
    let rate = ctx.state.config.limits.rate_mail_address;
    let address = users::email_key(email);
    let own_key = match requester {
        Requester::Account(user_id) => format!("mail-to:{address}|user:{user_id}"),
        Requester::Anyone => match ctx.client.throttle_key() {
            Some(client) => format!("mail-to:{address}|{client}"),
            None => format!("mail-to:{address}|anyone"),
        },
    };
    let detail = "mail rate limit for a recipient";
    let verdict = throttle::take_from(tx.exec(), &ctx.client, ctx.now_ms, &own_key, rate, detail).await?;
    if verdict != Verdict::Allowed || matches!(requester, Requester::Account(_)) {
        return Ok(verdict);
    }
    let cap = crate::server::config::Rate {
        count: rate.count.saturating_mul(ADDRESS_CAP_FACTOR),
        per: rate.per,
    };
    let key = format!("mail-to:{address}");
    throttle::take_from(
        tx.exec(),
        &ctx.client,
        ctx.now_ms,
        &key,
        cap,
        "mail cap of a recipient",
    )
    .await
}

/// Makes a link for `user` of `purpose` to `email`, queues its message and records it,
/// in `tx`. Answers `false` (nothing sent) when the recipient's allowance is used up.
///
/// A new address that belongs to another account gets no link: its owner gets a notice
/// that someone tried to use it, and everything else happens as for a free address (the
/// link is made and recorded, and nobody will ever hold it), so what the asker sees
/// says nothing about whether the address has an account.
async fn send_link(
    tx: &mut Tx,
    ctx: &RequestCtx,
    user: (i64, &str),
    purpose: Purpose,
    email: &str,
    requester: Requester,
) -> Result<bool, AppError> {
    let state = &ctx.state;
    let (user_id, username) = user;
    if recipient_allowance(tx, ctx, email, requester).await? != Verdict::Allowed {
        return Ok(false);
    }
    let taken_by = match purpose {
        Purpose::Change => users::find_by_email_key(tx.exec(), &users::email_key(email))
            .await?
            .filter(|other| other.id != user_id),
        Purpose::Verify | Purpose::Reset => None,
    };
    let token = SessionToken::generate();
    let now = ctx.now();
    let (path, lifetime) = match purpose {
        Purpose::Verify | Purpose::Change => ("/verify-email", VERIFY_SECONDS),
        Purpose::Reset => ("/reset-password", RESET_SECONDS),
    };
    db::email::insert_token(
        tx.exec(),
        &NewToken {
            id: &token.id(),
            user_id,
            purpose,
            email,
            expires_at: now + lifetime,
            created_at: now,
        },
    )
    .await?;
    let link = format!("{}{path}?token={}", state.config.public_origin, token.expose());
    let template = match purpose {
        Purpose::Verify => Template::Verify {
            username,
            email,
            link: &link,
        },
        Purpose::Change => Template::ConfirmChange {
            username,
            email,
            link: &link,
        },
        Purpose::Reset => Template::Reset {
            username,
            link: &link,
        },
    };
    let (kind, detail) = match (purpose, &taken_by) {
        (Purpose::Change, Some(owner)) => {
            // The owner of the address hears of it (only when it is verified theirs).
            if let Some(to) = owner.verified_email() {
                let notice = Template::AddressInUse {
                    username: &owner.username,
                    email: to,
                    at: now,
                };
                mail::queue(tx.exec(), state, to, &notice).await?;
            }
            (
                AuditKind::EmailVerificationSent,
                "new address belongs to another account: its owner was told instead",
            )
        }
        _ => {
            mail::queue(tx.exec(), state, email, &template).await?;
            match purpose {
                Purpose::Verify => (AuditKind::EmailVerificationSent, "address on the account"),
                Purpose::Change => (AuditKind::EmailVerificationSent, "new address"),
                Purpose::Reset => (AuditKind::PasswordResetRequested, "link sent"),
            }
        }
    };
    audit::record(
        tx.exec(),
        &ctx.client,
        ctx.now(),
        Event::about(kind, user_id, username).detail(detail),
    )
    .await?;
    Ok(true)
}

/// The address a new account gives at sign-up, checked against the configuration.
pub fn signup_address(ctx: &RequestCtx, typed: Option<&str>) -> Result<Option<EmailAddress>, AppError> {
    use crate::model::SignupEmail;
    let typed = typed.map(str::trim).filter(|t| !t.is_empty());
    match (ctx.state.config.mail.signup_email, typed) {
        (SignupEmail::Off, _) | (SignupEmail::Optional, None) => Ok(None),
        (SignupEmail::Required, None) => Err(AppError::bad_request("Enter an e-mail address.")),
        (_, Some(typed)) => EmailAddress::parse(typed)
            .map(Some)
            .map_err(|e| AppError::bad_request(e.to_string())),
    }
}

/// After a sign-up with an address (in its transaction): the verification link.
pub async fn after_signup(
    tx: &mut Tx,
    ctx: &RequestCtx,
    user_id: i64,
    username: &str,
    email: &str,
) -> Result<(), AppError> {
    let requester = Requester::Account(user_id);
    send_link(tx, ctx, (user_id, username), Purpose::Verify, email, requester).await?;
    Ok(())
}

/// `/forgot-password`: the same answer, in about the same time, whatever `login` is.
/// Only the client's allowance is checked before answering; finding the account and
/// queueing a link happen after the answer, in a task of their own, so an account that
/// exists costs the request nothing more than one that does not.
pub async fn forgot_password(ctx: &RequestCtx, login: &str) -> Result<(), AppError> {
    let mut conn = ctx.state.db.conn().await?;
    client_allowance(conn.exec(), ctx).await?;
    drop(conn);
    let login: String = login.trim().chars().take(300).collect();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        if let Err(e) = request_reset(&ctx, &login).await {
            tracing::warn!(error = %e.message, "password reset request failed");
        }
    });
    Ok(())
}

/// Finds the account `login` names (username or address) and, when it has a verified
/// address, sends it a reset link.
async fn request_reset(ctx: &RequestCtx, login: &str) -> Result<(), AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let user = if login.contains('@') {
        match EmailAddress::parse(login) {
            Ok(email) => users::find_by_email_key(tx.exec(), email.key()).await?,
            Err(_) => None,
        }
    } else {
        match Username::parse(login) {
            Ok(name) => users::find_by_key(tx.exec(), name.key()).await?,
            Err(_) => None,
        }
    };
    let Some(user) = user else {
        return Ok(());
    };
    if user.is_disabled(ctx.now()) {
        let event = Event::about(AuditKind::PasswordResetRequested, user.id, &user.username)
            .detail("account disabled: nothing sent");
        audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
        tx.commit().await?;
        return Ok(());
    }
    let Some(email) = user.verified_email().map(str::to_owned) else {
        let event = Event::about(AuditKind::PasswordResetRequested, user.id, &user.username)
            .detail("no verified address: nothing sent");
        audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
        tx.commit().await?;
        return Ok(());
    };
    let user_ref = (user.id, user.username.as_str());
    send_link(&mut tx, ctx, user_ref, Purpose::Reset, &email, Requester::Anyone).await?;
    tx.commit().await?;
    ctx.state.mailer.wake();
    Ok(())
}

/// What `/reset-password?token=…` shows before the form is sent.
pub async fn check_reset_link(ctx: &RequestCtx, token: &str) -> Result<LinkCheck, AppError> {
    let Some(id) = token_id(token) else {
        return Ok(LinkCheck {
            valid: false,
            needs_code: false,
        });
    };
    let mut conn = ctx.state.db.conn().await?;
    let Some(live) = db::email::peek(conn.exec(), &id, Purposes::RESET, ctx.now()).await? else {
        return Ok(LinkCheck {
            valid: false,
            needs_code: false,
        });
    };
    let account = two_factor::second_factors(conn.exec(), live.user_id).await?;
    let needs_code = factors::after(Proof::ResetLink, account) == Next::Code;
    Ok(LinkCheck {
        valid: true,
        needs_code,
    })
}

/// `/reset-password`: a good link, a password the policy accepts (and the second factor
/// when on) set a new password. Every session ends, the username's lock-out is lifted,
/// the other reset links stop working, and this browser is signed in with a new session.
pub async fn reset_password(
    ctx: &RequestCtx,
    token: &str,
    password: &SecretString,
    code: &str,
) -> Result<(), AppError> {
    let state = &ctx.state;
    let id = token_id(token).ok_or_else(link_invalid)?;
    let mut conn = state.db.conn().await?;
    let live = db::email::peek(conn.exec(), &id, Purposes::RESET, ctx.now())
        .await?
        .ok_or_else(link_invalid)?;
    let user = users::find_by_id(conn.exec(), live.user_id)
        .await?
        .ok_or_else(link_invalid)?;
    let account = two_factor::second_factors(conn.exec(), user.id).await?;
    let needs_code = factors::after(Proof::ResetLink, account) == Next::Code;
    drop(conn);
    if user.is_disabled(ctx.now()) {
        return Err(AppError::new(
            crate::model::ErrorKind::Forbidden,
            crate::model::MSG_DISABLED,
        ));
    }
    let name = Username::parse(&user.username).map_err(|e| AppError::bad_request(e.to_string()))?;
    let password = super::password::choice::new_password(ctx, password, &name, "password").await?;
    if needs_code {
        if code.trim().is_empty() {
            return Err(AppError::bad_request(
                "Enter the code from your authenticator app, or a recovery code.",
            ));
        }
        two_factor::check_code(ctx, &user, code).await?;
    }
    let hash = state.hasher.hash(&password).await?;

    let mut tx = state.db.begin().await?;
    let now = ctx.now();
    // Used here, in the transaction that sets the password: one link, one new password.
    let Some(LiveToken { user_id, email, .. }) =
        db::email::take(tx.exec(), &id, Purposes::RESET, now).await?
    else {
        return Err(link_invalid());
    };
    users::set_password_hash(tx.exec(), user_id, &hash, now).await?;
    let version = users::bump_credentials(tx.exec(), user_id).await?;
    db::sessions::delete_for_user_except(tx.exec(), user_id, None).await?;
    throttle::unlock(tx.exec(), &user.username_key).await?;
    db::email::spend_all(tx.exec(), user_id, Purpose::Reset, now).await?;
    // The link reached the address, which proves it again.
    users::mark_email_verified(tx.exec(), user_id, &email, now).await?;
    let event = Event::about(AuditKind::PasswordReset, user.id, &user.username);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    super::notice::notify(&mut tx, ctx, user.id, super::notice::Notice::PasswordChanged).await?;
    sessions::start(tx, ctx, &user.to_session_user(), How::PasswordReset, version).await?;
    state.mailer.wake();
    tracing::info!(user_id = user.id, "password reset by e-mail");
    Ok(())
}

/// What `/verify-email?token=…` shows before the button is pressed.
pub async fn check_verify_link(ctx: &RequestCtx, token: &str) -> Result<Option<String>, AppError> {
    let Some(id) = token_id(token) else {
        return Ok(None);
    };
    let mut conn = ctx.state.db.conn().await?;
    Ok(db::email::peek(conn.exec(), &id, Purposes::VERIFY, ctx.now())
        .await?
        .map(|live| live.email))
}

/// `/verify-email`: uses a verification link. A link for the address on the account
/// marks it verified; a link for a new address replaces the old one with it and tells
/// the old one. Works signed in or not: the link alone is the proof.
pub async fn verify(ctx: &RequestCtx, token: &str) -> Result<(), AppError> {
    let state = &ctx.state;
    let id = token_id(token).ok_or_else(link_invalid)?;
    let mut tx = state.db.begin().await?;
    let now = ctx.now();
    let live = db::email::take(tx.exec(), &id, Purposes::VERIFY, now)
        .await?
        .ok_or_else(link_invalid)?;
    let user = users::find_by_id(tx.exec(), live.user_id)
        .await?
        .ok_or_else(link_invalid)?;
    match live.purpose {
        Purpose::Change => {
            let old = user.verified_email().map(str::to_owned);
            if !users::set_email(tx.exec(), user.id, Some(&live.email), Some(now), now).await? {
                return Err(AppError::conflict(MSG_EMAIL_TAKEN));
            }
            db::email::spend_all(tx.exec(), user.id, Purpose::Change, now).await?;
            // A reset link sent to the old address must not outlive it.
            db::email::spend_all(tx.exec(), user.id, Purpose::Reset, now).await?;
            let event =
                Event::about(AuditKind::EmailChanged, user.id, &user.username).detail("new address verified");
            audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
            if let Some(old) = old.filter(|o| users::email_key(o) != users::email_key(&live.email)) {
                let template = Template::EmailChanged {
                    username: &user.username,
                    new_email: &live.email,
                    at: now,
                };
                mail::queue(tx.exec(), state, &old, &template).await?;
            }
        }
        _ => {
            // The address may have changed since the link was sent: then it proves nothing.
            if !users::mark_email_verified(tx.exec(), user.id, &live.email, now).await? {
                return Err(link_invalid());
            }
            let event = Event::about(AuditKind::EmailVerified, user.id, &user.username);
            audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
        }
    }
    tx.commit().await?;
    state.mailer.wake();
    Ok(())
}

/// The signed-in user's row.
async fn own_row(ctx: &RequestCtx) -> Result<UserRow, AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    users::find_by_id(conn.exec(), auth.user.id)
        .await?
        .ok_or_else(AppError::unauthorized)
}

/// What `/settings/account` shows of the address.
pub async fn state_of(ex: Exec<'_>, user: &UserRow, now: i64) -> Result<EmailState, AppError> {
    let pending = db::email::pending_change(ex, user.id, now).await?;
    Ok(EmailState {
        address: user.email.clone(),
        verified: user.email_verified_at.is_some(),
        pending,
    })
}

/// Sends the verification link again: for a new address waiting to replace the current
/// one, or else for the unverified address on the account.
pub async fn resend(ctx: &RequestCtx) -> Result<(), AppError> {
    let user = own_row(ctx).await?;
    let mut tx = ctx.state.db.begin().await?;
    // The newest intent first: a new address waiting to replace the current one.
    let pending = db::email::pending_change(tx.exec(), user.id, ctx.now()).await?;
    let (purpose, email) = match (pending, &user.email, user.email_verified_at) {
        (Some(pending), _, _) => (Purpose::Change, pending),
        (None, Some(email), None) => (Purpose::Verify, email.clone()),
        (None, _, _) => {
            return Err(AppError::bad_request(
                "There is no address waiting to be verified.",
            ))
        }
    };
    client_allowance(tx.exec(), ctx).await?;
    let requester = Requester::Account(user.id);
    if !send_link(
        &mut tx,
        ctx,
        (user.id, &user.username),
        purpose,
        &email,
        requester,
    )
    .await?
    {
        tx.commit().await?;
        return Err(AppError::too_many_attempts(3600));
    }
    tx.commit().await?;
    ctx.state.mailer.wake();
    Ok(())
}

/// Changes the address (recent authentication): the new address replaces the current
/// one only once it is verified through the link sent to it. The answer (and what the
/// settings page shows afterwards) is the same whether or not the new address belongs to
/// another account: that account's owner gets a notice instead of the link, so the form
/// tells nobody which addresses have accounts. Limited per client address before
/// anything is looked up.
pub async fn change(ctx: &RequestCtx, typed: &str) -> Result<(), AppError> {
    ctx.require_recent()?;
    let email = EmailAddress::parse(typed).map_err(|e| AppError::bad_request(e.to_string()))?;
    let user = own_row(ctx).await?;
    let mut tx = ctx.state.db.begin().await?;
    client_allowance(tx.exec(), ctx).await?;
    if user
        .verified_email()
        .is_some_and(|own| users::email_key(own) == email.key())
    {
        return Err(AppError::bad_request("That is your address already."));
    }
    let requester = Requester::Account(user.id);
    let user_ref = (user.id, user.username.as_str());
    if !send_link(&mut tx, ctx, user_ref, Purpose::Change, email.as_str(), requester).await? {
        tx.commit().await?;
        return Err(AppError::too_many_attempts(3600));
    }
    tx.commit().await?;
    ctx.state.mailer.wake();
    Ok(())
}

/// `gatehouse user set-email`: sets the address, verified or not, with no link and no
/// notice (the operator vouches for it). Earlier links for the account stop working.
pub async fn set_by_operator(
    ctx: &RequestCtx,
    user: &UserRow,
    email: &EmailAddress,
    verified: bool,
) -> Result<(), AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let now = ctx.now();
    if !users::set_email(
        tx.exec(),
        user.id,
        Some(email.as_str()),
        verified.then_some(now),
        now,
    )
    .await?
    {
        return Err(AppError::conflict(MSG_EMAIL_TAKEN));
    }
    for purpose in [Purpose::Verify, Purpose::Change, Purpose::Reset] {
        db::email::spend_all(tx.exec(), user.id, purpose, now).await?;
    }
    let detail = if verified {
        "set (verified) by the command line"
    } else {
        "set by the command line"
    };
    let event = Event::about(AuditKind::EmailChanged, user.id, &user.username).detail(detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    Ok(())
}

/// Deletes links that expired more than a day ago (hourly).
pub async fn purge(db: &Db, now: i64) -> anyhow::Result<u64> {
    let mut conn = db.conn().await?;
    db::email::purge_tokens(conn.exec(), now - 24 * 3600).await
}
