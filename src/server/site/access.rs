//! The access layer: the page table's rules, applied before the app renders. A
//! signed-out visitor asking for a guarded page gets a 303 to the sign-in page from the
//! server itself (no flash, no JavaScript needed); a signed-in user asking for the
//! sign-in or sign-up page goes to their profile; a path under a guarded area that the
//! table does not list is the 404 page for everyone, whatever the router holds for it.
//! A role that is too low is left to the page, which answers the 403 page with status 403.

use crate::{
    page::{classify, login_url, Access, PathAccess},
    server::{auth::sessions::CurrentSession, http::error_page},
};
use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http::{Method, StatusCode};

pub async fn enforce(req: Request, next: Next) -> Response {
    let signed_in = req
        .extensions()
        .get::<CurrentSession>()
        .is_some_and(|current| current.0.is_some());
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let to_login = |req: &Request| {
        let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        Redirect::to(&login_url(target)).into_response()
    };
    match classify(req.uri().path()) {
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
