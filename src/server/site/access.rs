//! The access layer: the page table's rules, applied before the app renders. A
//! signed-out visitor asking for a guarded page gets a 303 to the sign-in page from the
//! server itself (no flash, no JavaScript needed); a signed-in user asking for the
//! sign-in or sign-up page goes to their profile; a path under a guarded area that the
//! table does not list is the 404 page for everyone, whatever the router holds for it
//! (the bare area itself, `/settings`, leads to its first page).
//! A role that is too low is left to the page, which answers the 403 page with status
//! 403. With `GATEHOUSE_REQUIRE_2FA`, a user who must set up two-factor sign-in reaches
//! nothing but the setup (and what it needs) until they have. While an administrator
//! views the app as a user, only that user's pages and their plain reads answer.

use crate::{
    model::{AppError, ErrorKind, Role},
    page::{area_entry, classify, login_url, Access, Page, PathAccess},
    server::{
        auth::view_as,
        http::{csrf::refuse, error_page},
        identity::session::CurrentSession,
    },
};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http::{Method, StatusCode};

/// Server functions a user who must set up two-factor sign-in may still call: signing
/// out, the setup itself and what its pages read, and confirming it's them.
const SETUP_FUNCTIONS: &[&str] = &[
    "logout",
    "current_user",
    "auth_settings",
    "account",
    "reauthenticate",
    "security",
    "begin_two_factor",
    "confirm_two_factor",
    "new_recovery_codes",
];

/// The role from which two-factor sign-in is required, if any.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    pub require_2fa: Option<Role>,
}

pub async fn enforce(State(policy): State<Policy>, req: Request, next: Next) -> Response {
    let session = req.extensions().get::<CurrentSession>().and_then(|c| c.0.clone());
    let signed_in = session.is_some();
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let to_login = |req: &Request| {
        let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        Redirect::to(&login_url(target)).into_response()
    };
    if reading {
        if let Some(entry) = area_entry(req.uri().path()) {
            return Redirect::to(entry).into_response();
        }
    }
    let access = classify(req.uri().path());
    if session.as_ref().is_some_and(|auth| auth.impersonator.is_some()) {
        if let Some(refused) = while_viewing(&req, access) {
            return refused;
        }
    }
    let must_set_up = session.as_ref().is_some_and(|auth| {
        !auth.has_strong_sign_in() && policy.require_2fa.is_some_and(|role| auth.user.role >= role)
    });
    if must_set_up {
        if let Some(refused) = setup_first(&req, access, reading) {
            return refused;
        }
    }
    match access {
        PathAccess::Open => next.run(req).await,
        PathAccess::Unlisted => {
            tracing::debug!(
                path = %req.uri().path(),
                "refused: under a guarded area but not in the page table (src/page.rs)"
            );
            let id = crate::server::http::request_id::of(req.extensions()).map(str::to_owned);
            error_page::render(StatusCode::NOT_FOUND, id.as_deref())
        }
        PathAccess::Page(page) if reading => match (page.access(), signed_in) {
            (Access::SignedIn(_), false) => to_login(&req),
            (Access::SignedOut, true) => Redirect::to("/profile").into_response(),
            _ => next.run(req).await,
        },
        PathAccess::Page(_) => next.run(req).await,
    }
}

/// While an administrator views as a user: the admin area, `/reauth`, the sign-in,
/// linking and passkey routes under `/auth/`, and every server function that is not a
/// plain read of the user's pages are refused (403).
fn while_viewing(req: &Request, access: PathAccess) -> Option<Response> {
    let path = req.uri().path();
    let refused = match access {
        PathAccess::Page(page) => page == Page::Reauth || page.access() == Access::SignedIn(Role::Admin),
        PathAccess::Unlisted => false,
        PathAccess::Open => match path.strip_prefix(crate::server::http::server_fn::PREFIX) {
            Some(name) => !view_as::READ_ONLY_FUNCTIONS.contains(&name),
            None => path.starts_with("/auth/"),
        },
    };
    refused.then(|| refuse(req.headers(), AppError::viewing_as()))
}

/// For a user who must set up two-factor sign-in: pages other than the setup and
/// `/reauth` go to the setup; server functions other than [`SETUP_FUNCTIONS`] are
/// refused (403, or the setup page for a plain form post).
fn setup_first(req: &Request, access: PathAccess, reading: bool) -> Option<Response> {
    let setup = Page::SecuritySettings.path();
    match access {
        PathAccess::Page(Page::SecuritySettings | Page::Reauth) => None,
        PathAccess::Page(_) if reading => Some(Redirect::to(setup).into_response()),
        _ => {
            let name = req
                .uri()
                .path()
                .strip_prefix(crate::server::http::server_fn::PREFIX)?;
            if SETUP_FUNCTIONS.contains(&name) {
                return None;
            }
            if crate::server::http::csrf::wants_html(req.headers()) {
                return Some(Redirect::to(setup).into_response());
            }
            let error = AppError::new(
                ErrorKind::Forbidden,
                "Your role needs two-factor sign-in: set it up on the security page first.",
            );
            Some(refuse(req.headers(), error))
        }
    }
}
