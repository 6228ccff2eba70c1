//! Sign-up, sign-in, sign-out and the current user.

use crate::{
    domain::SecretString,
    model::{AppError, SessionUser},
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{auth::accounts, context::RequestCtx};

/// A form posted without JavaScript comes back to its page after a failure: the typed
/// username goes with it in a one-read cookie, never in the address.
#[cfg(feature = "ssr")]
fn keep_typed_username(ctx: &RequestCtx, typed: &str) {
    if ctx.wants_page() {
        crate::server::flash::keep_typed_username(ctx, typed);
    }
}

/// The signed-in user of this request (validated once by the session layer), or `None`.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<SessionUser>, AppError> {
    let ctx = RequestCtx::current()?;
    Ok(ctx.session.as_ref().map(|auth| auth.user.clone()))
}

/// Creates an account and signs in. Answers the page to go to next: `next` when it is a
/// local path (the page that sent the visitor to sign in), else the profile.
#[server(endpoint = "signup")]
pub async fn signup(
    username: String,
    password: SecretString,
    email: Option<String>,
    next: Option<String>,
) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let next = crate::domain::LocalPath::or_profile(next.as_deref());
    accounts::sign_up(&ctx, &username, &password, email.as_deref())
        .await
        .inspect_err(|_| keep_typed_username(&ctx, &username))?;
    Ok(ctx.continue_to(&next))
}

/// Signs in with a username and password. `next` is where to go afterwards; only a
/// local path is honoured, anything else goes to the profile.
#[server(endpoint = "login")]
pub async fn login(
    username: String,
    password: SecretString,
    next: Option<String>,
) -> Result<String, AppError> {
    use crate::server::auth::two_factor::SignIn;
    let ctx = RequestCtx::current()?;
    let next = crate::domain::LocalPath::or_profile(next.as_deref());
    let signed_in = accounts::sign_in(&ctx, &username, &password, &next)
        .await
        .inspect_err(|_| keep_typed_username(&ctx, &username))?;
    Ok(match signed_in {
        SignIn::Complete(_) => ctx.continue_to(&next),
        SignIn::SecondFactorPending => ctx.continue_to("/login/two-factor"),
    })
}

/// Signs out: deletes the session and clears the cookie.
#[server(endpoint = "logout")]
pub async fn logout() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    crate::server::auth::sessions::end(&ctx).await?;
    Ok(ctx.continue_to("/"))
}

/// Stops viewing the app as another user: back to the administrator's own session.
#[server(endpoint = "stop_viewing")]
pub async fn stop_viewing() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    crate::server::auth::view_as::stop(&ctx).await?;
    Ok(ctx.continue_to("/admin"))
}

/// Password policy and enabled providers, for the sign-in and sign-up forms.
#[server(endpoint = "auth_settings")]
pub async fn auth_settings() -> Result<crate::model::AuthSettings, AppError> {
    let state = crate::server::context::state()?;
    Ok(crate::model::AuthSettings {
        password_min_length: state.config.password_min_length,
        github: state.config.github.is_some(),
        google: state.config.google.is_some(),
        passkeys: state.config.passkeys,
        signup_email: state.config.mail.signup_email,
    })
}

/// Confirms it's you with your password before a sensitive change ("sudo mode").
/// Answers the page to go back to (`next`, a local path).
#[server(endpoint = "reauthenticate")]
pub async fn reauthenticate(
    password: SecretString,
    code: Option<String>,
    next: Option<String>,
) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    accounts::reauthenticate(&ctx, &password, code.as_deref().unwrap_or_default()).await?;
    Ok(ctx.continue_to(&crate::domain::LocalPath::or_profile(next.as_deref())))
}

/// The username typed into a sign-in or sign-up form that failed without JavaScript,
/// for the page it came back to (read once). Only the error page reads it, never a
/// plain `/login` or `/signup` (which the page cache may keep for everyone).
#[server(endpoint = "typed_username")]
pub async fn typed_username() -> Result<Option<String>, AppError> {
    let ctx = RequestCtx::current()?;
    let on_error_page = leptos::prelude::with_context::<http::request::Parts, _>(|parts| {
        parts.uri.query().is_some_and(|q| q.contains("__err="))
    })
    .unwrap_or(false);
    Ok(on_error_page
        .then(|| crate::server::flash::take_typed_username(&ctx))
        .flatten())
}

/// Completes a sign-in waiting for its second factor with a code (six digits from the
/// authenticator app, or a recovery code). Answers the page to go to next.
#[server(endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let next = crate::server::auth::two_factor::complete(&ctx, &code).await?;
    Ok(ctx.continue_to(&next))
}

/// True when this browser has a sign-in waiting for its second factor.
#[server(endpoint = "pending_sign_in")]
pub async fn pending_sign_in() -> Result<bool, AppError> {
    crate::server::auth::two_factor::has_pending(&RequestCtx::current()?).await
}
