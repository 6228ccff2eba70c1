//! Request-scoped values as server functions and pages see them.
//!
//! The HTTP layers put the request id, the client's address and the validated session
//! into the request's extensions; leptos_axum provides the request `Parts` as context.
//! These helpers read them back without cloning the whole request head.

use super::{
    auth::{session::Authenticated, session::ClientInfo},
    http::request_id::RequestId,
    state::AppState,
};
use crate::model::AppError;
use http::request::Parts;
use leptos::prelude::{use_context, with_context};
use std::sync::Arc;
use tower_cookies::Cookies;

/// The validated session of the current request, if any (set by the auth layer).
#[derive(Clone, Debug, Default)]
pub struct CurrentAuth(pub Option<Arc<Authenticated>>);

/// The shared application state.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| missing("application state"))
}

fn missing(what: &str) -> AppError {
    tracing::error!("{what} is missing from the request context");
    AppError::internal("unknown")
}

/// The request id given by the request-id layer (`unknown` outside a request).
pub fn request_id() -> String {
    with_context::<Parts, _>(|p| p.extensions.get::<RequestId>().map(|id| id.as_str().to_owned()))
        .flatten()
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The signed-in user and session of this request.
pub fn current_auth() -> Option<Arc<Authenticated>> {
    with_context::<Parts, _>(|p| p.extensions.get::<CurrentAuth>().and_then(|a| a.0.clone())).flatten()
}

/// The signed-in user, or 401.
pub fn require_user() -> Result<Arc<Authenticated>, AppError> {
    current_auth().ok_or_else(AppError::unauthorized)
}

/// The signed-in user if their role is at least `required`: 401 when signed out, 403 when too low.
pub fn require_role(required: crate::model::Role) -> Result<Arc<Authenticated>, AppError> {
    let auth = require_user()?;
    if crate::model::role_at_least(required, auth.user.role) {
        Ok(auth)
    } else {
        Err(AppError::forbidden())
    }
}

/// Address and user agent of the client.
pub fn client_info() -> ClientInfo {
    with_context::<Parts, _>(|p| p.extensions.get::<ClientInfo>().cloned())
        .flatten()
        .unwrap_or_default()
}

/// The cookie jar of this request/response.
pub fn cookies() -> Result<Cookies, AppError> {
    with_context::<Parts, _>(|p| p.extensions.get::<Cookies>().cloned())
        .flatten()
        .ok_or_else(|| missing("cookie jar"))
}

/// True for a plain HTML form post (no JavaScript): the browser wants a page back,
/// so answers are redirects rather than JSON with a status.
pub fn is_plain_form_post() -> bool {
    with_context::<Parts, _>(|p| {
        p.headers
            .get(http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    })
    .unwrap_or(false)
}

/// What an account action needs from its request: state, cookie jar, client, session.
pub fn account_request() -> Result<crate::server::auth::accounts::Request, AppError> {
    Ok(crate::server::auth::accounts::Request {
        state: state()?,
        cookies: cookies()?,
        client: client_info(),
        presented: current_auth(),
    })
}

/// Where the browser should go after a successful action. A plain form post gets a
/// real redirect (POST → redirect → GET); a JavaScript caller gets the path back and
/// navigates client-side after refreshing what changed.
pub fn go_to(path: &str) -> String {
    if is_plain_form_post() {
        leptos_axum::redirect(path);
    }
    path.to_owned()
}
