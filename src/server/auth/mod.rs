//! Authentication: passwords, sessions, cookies, and the layer that validates the
//! session of every request once.

pub mod accounts;
pub mod cookie;
pub mod oauth;
pub mod password;
pub mod session;
pub mod throttle;

use crate::server::{
    context::CurrentAuth,
    error::internal_page,
    http::{client, request_id::RequestId},
    state::AppState,
};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use session::{SessionToken, Validation};
use std::sync::Arc;
use tower_cookies::Cookies;

/// Reads the session cookie, validates it (one indexed query), re-sets it when the
/// session was renewed, clears it when it is no longer valid, and leaves the outcome in
/// the request's extensions for pages and server functions ([`CurrentAuth`]).
pub async fn authenticate(
    State(state): State<AppState>,
    cookies: Cookies,
    mut req: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let info = client::from_parts(&parts, state.config.trust_proxy);
    parts.extensions.insert(info);
    req = Request::from_parts(parts, body);

    let mut current = None;
    if let Some(value) = state.cookie.read(&cookies) {
        match SessionToken::parse(&value) {
            None => state.cookie.clear(&cookies),
            Some(token) => match session::validate(&state.db, &state.config.session, &token).await {
                Ok(Validation::Valid { auth, renewed_until }) => {
                    if let Some(expires_at) = renewed_until {
                        state.cookie.issue(&cookies, token.expose(), expires_at);
                    }
                    current = Some(Arc::new(auth));
                }
                Ok(Validation::Invalid) => state.cookie.clear(&cookies),
                Err(err) => {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .map(|id| id.as_str().to_owned());
                    return internal_page(err, id.as_deref());
                }
            },
        }
    }
    req.extensions_mut().insert(CurrentAuth(current));
    next.run(req).await
}
