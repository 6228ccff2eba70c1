//! Route guards for page requests, applied before the app renders (SPEC §7): a
//! signed-out visitor asking for a guarded page gets a 303 to the sign-in page from the
//! server itself (no flash, no JavaScript needed); a signed-in user asking for the
//! sign-in or sign-up page goes to their profile. A role that is too low is left to the
//! page, which answers the 403 page with status 403.

use crate::{
    routes::{access_for, login_url, Access},
    server::context::CurrentAuth,
};
use axum::{
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use http::Method;

pub async fn guard_pages(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let signed_in = req
        .extensions()
        .get::<CurrentAuth>()
        .is_some_and(|a| a.0.is_some());
    match (access_for(req.uri().path()), signed_in) {
        (Access::SignedIn(_), false) => {
            let target = req.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
            Redirect::to(&login_url(target)).into_response()
        }
        (Access::SignedOut, true) => Redirect::to("/profile").into_response(),
        _ => next.run(req).await,
    }
}
