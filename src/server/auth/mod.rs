//! Authentication: passwords, sessions, cookies, throttling, accounts, OAuth, and the
//! layer that validates the session of every request once.

pub mod accounts;
pub mod cookie;
pub mod device;
pub mod email;
pub mod notice;
pub mod oauth;
pub mod passkeys;
pub mod password;
pub mod relying_party;
pub mod sessions;
pub mod throttle;
pub mod totp;
pub mod two_factor;
pub mod view_as;

use crate::server::{
    context::RequestCtx,
    error::internal_page,
    http::{client, csrf::wants_html, request_id},
    state::AppState,
};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use sessions::{SessionToken, Validation};
use tower_cookies::Cookies;

/// Reads the session cookie, validates it (one indexed query), re-sets it when the
/// session was renewed, clears it when it is no longer valid, puts an administrator's
/// "view as" session in its place when there is one (`view_as`), and leaves the request's
/// [`RequestCtx`] in its extensions for pages, server functions and handlers.
pub async fn authenticate(
    State(state): State<AppState>,
    cookies: Cookies,
    mut req: Request,
    next: Next,
) -> Response {
    let client = client::of_request(&req, state.config.trust_proxy);
    let request_id = request_id::of(req.extensions()).map(str::to_owned);
    let now_ms = state.clock.now_millis();
    let now = now_ms.div_euclid(1000);
    let mut session = None;
    if let Some(value) = state.cookie.read(&cookies) {
        match SessionToken::parse(&value) {
            None => state.cookie.clear(&cookies),
            Some(token) => match sessions::validate(&state.db, &state.config.session, &token, now).await {
                Ok(Validation::Valid { auth, renewed_until }) => {
                    if let Some(expires_at) = renewed_until {
                        state.cookie.issue(&cookies, token.expose(), expires_at, now);
                    }
                    session = Some(auth);
                }
                Ok(Validation::Invalid) => state.cookie.clear(&cookies),
                Err(err) => return internal_page(err, request_id.as_deref()),
            },
        }
    }
    let session = match view_as::apply(&state, &cookies, &client, session, now).await {
        Ok(session) => session,
        Err(err) => return internal_page(err, request_id.as_deref()),
    };
    let wants_page = wants_html(req.headers());
    req.extensions_mut()
        .insert(sessions::CurrentSession(session.clone()));
    let serving = request_id.clone();
    let ctx = RequestCtx::for_request(state, cookies, client, session, request_id, wants_page, now_ms);
    req.extensions_mut().insert(ctx);
    request_id::serving(serving, next.run(req)).await
}
