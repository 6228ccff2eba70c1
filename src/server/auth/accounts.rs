//! Sign-up, sign-in and sign-out: the rules of SPEC §5–§6 in one place, called by the
//! thin server functions in `api::auth`.

use super::{
    password::{HashError, PasswordHasher},
    session::{self, Authenticated, ClientInfo},
    throttle::{self, Action},
};
use crate::{
    domain::{normalise_for_verification, Password, SecretString, Username},
    model::{AppError, AuditKind, SessionUser, MSG_USERNAME_TAKEN},
    server::{
        audit::{self, Event},
        db::{self, now_seconds, users},
        error::internal,
        state::AppState,
    },
};
use std::sync::Arc;
use tower_cookies::Cookies;

/// Everything a sign-up, sign-in or sign-out needs to know about its request.
pub struct Request {
    pub state: AppState,
    pub cookies: Cookies,
    pub client: ClientInfo,
    /// The session the request arrived with, if any. It is never reused.
    pub presented: Option<Arc<Authenticated>>,
}

/// Maps a hashing failure: saturation is a 503 with a hint to retry, the rest a 500.
pub(crate) fn hash_failure(err: HashError) -> AppError {
    match err {
        HashError::Busy => AppError {
            retry_after: Some(5),
            ..AppError::unavailable("The server is busy right now. Please try again in a few seconds.")
        },
        HashError::Other(e) => internal(e),
    }
}

/// Creates an account and signs it in with a brand-new session.
pub async fn sign_up(
    req: &Request,
    username: &str,
    password: &SecretString,
) -> Result<SessionUser, AppError> {
    let state = &req.state;
    throttle::check_client(&state.db, state.config.rate_signup, Action::SignUp, &req.client)
        .await
        .map_err(internal)?
        .map_err(|e| e.with_username(username))?;
    let name = Username::parse(username)
        .map_err(|e| AppError::bad_request(e.to_string()).with_username(username))?;
    let password = Password::parse(password, &name, state.config.password_min_length)
        .map_err(|e| AppError::bad_request(e.to_string()).with_username(username))?;
    let taken = || AppError::conflict(MSG_USERNAME_TAKEN).with_username(username);

    // A cheap early answer for the common case; the UNIQUE constraint below still
    // decides races between concurrent sign-ups.
    let mut conn = state.db.conn().await.map_err(internal)?;
    if users::key_exists(conn.exec(), name.key())
        .await
        .map_err(internal)?
    {
        return Err(taken());
    }
    drop(conn);

    let hash = state.hasher.hash(&password).await.map_err(hash_failure)?;
    let now = now_seconds();
    let mut tx = state.db.begin().await.map_err(internal)?;
    let new_user = users::NewUser {
        username: name.as_str(),
        username_key: name.key(),
        password_hash: Some(&hash),
        role: state.config.default_role,
        display_name: None,
        avatar_url: None,
        email: None,
        now,
    };
    let user_id = match users::insert(tx.exec(), &new_user).await.map_err(internal)? {
        users::Inserted::Created(id) => id,
        users::Inserted::Taken => return Err(taken()),
    };
    if let Some(old) = &req.presented {
        db::sessions::delete(tx.exec(), &old.session_id)
            .await
            .map_err(internal)?;
    }
    let created = session::create(tx.exec(), &state.config.session, user_id, &req.client)
        .await
        .map_err(internal)?;
    audit::record(
        tx.exec(),
        &req.client,
        Event::about(AuditKind::Signup, user_id, name.as_str()),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;

    state
        .cookie
        .issue(&req.cookies, created.token.expose(), created.expires_at);
    tracing::info!(user_id, "signed up");
    Ok(SessionUser {
        id: user_id,
        username: name.as_str().to_owned(),
        role: state.config.default_role,
        display_name: None,
        avatar_url: None,
        created_at: now,
    })
}

/// Checks a username and password and, when they match, opens a brand-new session.
/// Every failure — unknown user, wrong password, OAuth-only account, malformed input —
/// gives the same message and, for well-formed input, costs the same argon2 work.
pub async fn sign_in(
    req: &Request,
    username: &str,
    password: &SecretString,
) -> Result<SessionUser, AppError> {
    let state = &req.state;
    let refused = || AppError::bad_credentials().with_username(username);
    // The client's allowance first: it bounds all the work below.
    throttle::check_client(&state.db, state.config.rate_signin, Action::SignIn, &req.client)
        .await
        .map_err(internal)?
        .map_err(|e| e.with_username(username))?;
    // A name that can't exist, or an over-long password, is refused before any hashing.
    let Ok(name) = Username::parse(username) else {
        return Err(refused());
    };
    let Some(password) = normalise_for_verification(password) else {
        return Err(refused());
    };

    let mut conn = state.db.conn().await.map_err(internal)?;
    let user = users::find_by_key(conn.exec(), name.key())
        .await
        .map_err(internal)?;
    drop(conn);
    // A locked name is refused before any hashing, whether or not the password is right.
    let account = user.as_ref().map(|u| (u.id, u.username.as_str()));
    throttle::check_username(&state.db, name.key(), &req.client, account)
        .await
        .map_err(internal)?
        .map_err(|e| e.with_username(username))?;
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let verified = verify(&state.hasher, &password, stored).await?;

    let user = match user {
        Some(user) if verified.matches => user,
        other => {
            // The typed name is recorded only when it is an account: people type
            // passwords into the username field, and those must not end up in the log.
            let event = match &other {
                Some(u) => Event::about(AuditKind::LoginFailure, u.id, &u.username).detail("wrong password"),
                None => Event::anonymous(AuditKind::LoginFailure).detail("unknown username"),
            };
            let mut conn = state.db.conn().await.map_err(internal)?;
            audit::record(conn.exec(), &req.client, event)
                .await
                .map_err(internal)?;
            drop(conn);
            throttle::record_failure(&state.db, name.key(), state.config.login_max_failures)
                .await
                .map_err(internal)?;
            return Err(refused());
        }
    };

    throttle::reset(&state.db, name.key()).await.map_err(internal)?;
    if verified.needs_rehash {
        upgrade_hash(state, &user, &password).await;
    }

    let mut tx = state.db.begin().await.map_err(internal)?;
    if let Some(old) = &req.presented {
        db::sessions::delete(tx.exec(), &old.session_id)
            .await
            .map_err(internal)?;
    }
    let created = session::create(tx.exec(), &state.config.session, user.id, &req.client)
        .await
        .map_err(internal)?;
    audit::record(
        tx.exec(),
        &req.client,
        Event::about(AuditKind::LoginSuccess, user.id, &user.username),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;

    state
        .cookie
        .issue(&req.cookies, created.token.expose(), created.expires_at);
    tracing::info!(user_id = user.id, "signed in");
    Ok(user.to_session_user())
}

async fn verify(
    hasher: &PasswordHasher,
    password: &SecretString,
    stored: Option<&str>,
) -> Result<super::password::Verified, AppError> {
    hasher.verify(password, stored).await.map_err(hash_failure)
}

/// Re-hashes with today's parameters after a successful sign-in. Best effort: a
/// failure leaves the old (still valid) hash and is only logged.
async fn upgrade_hash(state: &AppState, user: &users::UserRow, password: &SecretString) {
    let Some(old_hash) = user.password_hash.as_deref() else {
        return;
    };
    // The policy may have tightened since; an upgrade changes the hash, never the password.
    let parsed = Password::already_verified(password.clone());
    let result = async {
        let new_hash = state
            .hasher
            .hash(&parsed)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut conn = state.db.conn().await?;
        users::upgrade_password_hash(conn.exec(), user.id, old_hash, &new_hash).await
    }
    .await;
    match result {
        Ok(()) => tracing::info!(user_id = user.id, "password hash upgraded"),
        Err(e) => tracing::warn!(
            user_id = user.id,
            error = format!("{e:#}"),
            "password hash upgrade failed"
        ),
    }
}

/// Ends the request's session (if any) and clears the cookie either way.
pub async fn sign_out(req: &Request) -> Result<(), AppError> {
    if let Some(auth) = &req.presented {
        let mut tx = req.state.db.begin().await.map_err(internal)?;
        db::sessions::delete(tx.exec(), &auth.session_id)
            .await
            .map_err(internal)?;
        audit::record(
            tx.exec(),
            &req.client,
            Event::about(AuditKind::Logout, auth.user.id, &auth.user.username),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(user_id = auth.user.id, "signed out");
    }
    req.state.cookie.clear(&req.cookies);
    Ok(())
}

/// Sets a new password (already checked against the policy) and ends every session of
/// the user, in one transaction. With `sign_in_again`, a brand-new session for this
/// client is created in the same transaction (the settings page keeps its user signed in
/// on a fresh token); the command line signs the user out everywhere.
/// Returns how many sessions ended, and the new session if one was made.
pub async fn replace_password(
    state: &AppState,
    client: &ClientInfo,
    user_id: i64,
    username: &str,
    password: &Password,
    sign_in_again: bool,
    detail: &str,
) -> Result<(u64, Option<session::NewSession>), AppError> {
    let hash = state.hasher.hash(password).await.map_err(hash_failure)?;
    let mut tx = state.db.begin().await.map_err(internal)?;
    users::set_password_hash(tx.exec(), user_id, &hash, now_seconds())
        .await
        .map_err(internal)?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), user_id, None)
        .await
        .map_err(internal)?;
    let fresh = if sign_in_again {
        Some(
            session::create(tx.exec(), &state.config.session, user_id, client)
                .await
                .map_err(internal)?,
        )
    } else {
        None
    };
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::PasswordChanged, user_id, username).detail(detail),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok((ended, fresh))
}

/// Creates an account without signing it in (the command line's `user create`).
pub async fn create_account(
    state: &AppState,
    client: &ClientInfo,
    name: &Username,
    password: &Password,
    role: crate::model::Role,
) -> Result<i64, AppError> {
    let hash = state.hasher.hash(password).await.map_err(hash_failure)?;
    let mut tx = state.db.begin().await.map_err(internal)?;
    let new_user = users::NewUser {
        username: name.as_str(),
        username_key: name.key(),
        password_hash: Some(&hash),
        role,
        display_name: None,
        avatar_url: None,
        email: None,
        now: now_seconds(),
    };
    let id = match users::insert(tx.exec(), &new_user).await.map_err(internal)? {
        users::Inserted::Created(id) => id,
        users::Inserted::Taken => return Err(AppError::conflict(MSG_USERNAME_TAKEN)),
    };
    let detail = format!("created with role {role} by the command line");
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::Signup, id, name.as_str()).detail(&detail),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(id)
}
