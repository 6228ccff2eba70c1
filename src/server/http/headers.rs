//! Security headers on every response — pages, redirects, errors, health checks and
//! server-function answers alike — set by tower-http's `SetResponseHeader` layers; and
//! the layer that turns a bare error from a tower layer (timeout, body limit, panic)
//! into the error page, which needs the request id and so is written here.

use super::{error_page, request_id};
use axum::{extract::Request, middleware::Next, response::Response, Router};
use http::{header, HeaderName, HeaderValue, StatusCode};
use std::any::Any;
use tower_http::set_header::SetResponseHeaderLayer;

/// The policy for anything that is not an app page (those carry their own, with a
/// script nonce): nothing may run, load or frame.
const DEFAULT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const PERMISSIONS_POLICY: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Wraps `router` in the header layers; `hsts` when the public URL is https.
pub fn secure<S: Clone + Send + Sync + 'static>(router: Router<S>, hsts: bool) -> Router<S> {
    let set = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(axum::middleware::from_fn(cache_policy))
        .layer(axum::middleware::from_fn(dress_errors))
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::REFERRER_POLICY, "strict-origin-when-cross-origin"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ))
        .layer(set(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::STRICT_TRANSPORT_SECURITY,
            hsts.then(|| HeaderValue::from_static(HSTS)),
        ))
}

/// What a browser or a proxy may keep. Every answer built for a request — pages (a
/// signed-in user's pages show their data), server-function answers, redirects, errors —
/// is `no-store`, page-cache hits included: nothing of it stays in a shared browser's
/// cache or a proxy. The static files of the site (`/pkg/…`, the favicon, `/passkeys.js`) may be kept,
/// but are revalidated on each use (`no-cache`: a 304 when unchanged), because their
/// names carry no content hash and a new deployment must be seen at once.
async fn cache_policy(req: Request, next: Next) -> Response {
    let is_static =
        req.uri().path().starts_with("/pkg/") || matches!(req.uri().path(), "/favicon.svg" | "/passkeys.js");
    let mut response = next.run(req).await;
    let static_file =
        is_static && (response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED);
    let value = if static_file {
        "public, no-cache"
    } else {
        "no-store"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
    response
}

/// Replaces a bare-bones error from a tower layer (408 from the timeout, 413 from the
/// body limit, 500 from the panic catcher) with the matching page and its request id.
async fn dress_errors(req: Request, next: Next) -> Response {
    let id = request_id::of(req.extensions()).map(str::to_owned);
    let response = next.run(req).await;
    let bare = matches!(response.status().as_u16(), 408 | 413 | 500)
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"));
    if bare {
        error_page::render(response.status(), id.as_deref())
    } else {
        response
    }
}

/// The answer to a panicking handler (tower-http's `CatchPanic`): the message goes to
/// the log, inside the request's span (which names its id); the user gets the 500
/// page from [`dress_errors`].
pub fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    tracing::error!(panic = %message, "handler panicked");
    let mut response = Response::new(axum::body::Body::empty());
    *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    response
}
