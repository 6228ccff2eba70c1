//! What every answer gets on its way out — pages, redirects, errors, health checks and
//! server-function answers alike: the security headers, the cache policy, the error
//! page in place of a bare error from a tower layer (timeout, body limit, panic), which
//! needs the request id, and every error page under the configured app name. One tower layer does all three, wrapping the answer's future:
//! it sits around the whole site once, so a request pays for one small allocation here
//! instead of a stack of layers cloned for each request.

use super::error_page::{self, ErrorPage};
use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    response::Response,
    BoxError,
};
use futures::future::BoxFuture;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use std::{
    any::Any,
    sync::Arc,
    task::{Context, Poll},
};
use tower_http::request_id::RequestId;

/// The policy for anything that is not an app page (those carry their own, with a
/// script nonce): nothing may run, load or frame.
const DEFAULT_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

const PERMISSIONS_POLICY: &str =
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()";

const HSTS: &str = "max-age=63072000; includeSubDomains";

/// The layer of [`Secure`]; `hsts` when the public URL is https.
#[derive(Clone, Debug)]
pub struct SecureLayer {
    hsts: bool,
    /// `None` for the default name, which error pages are made with already.
    app_name: Option<Arc<str>>,
}

impl SecureLayer {
    pub fn new(hsts: bool, app_name: &str) -> Self {
        Self {
            hsts,
            app_name: (app_name != crate::model::DEFAULT_APP_NAME).then(|| app_name.into()),
        }
    }
}

impl<S> tower::Layer<S> for SecureLayer {
    type Service = Secure<S>;

    fn layer(&self, inner: S) -> Secure<S> {
        Secure {
            inner,
            hsts: self.hsts,
            app_name: self.app_name.clone(),
        }
    }
}

/// Finishes each answer of the service inside: see the module's documentation.
#[derive(Clone, Debug)]
pub struct Secure<S> {
    inner: S,
    hsts: bool,
    app_name: Option<Arc<str>>,
}

impl<S, B> tower::Service<Request> for Secure<S>
where
    S: tower::Service<Request, Response = http::Response<B>>,
    S::Future: Send + 'static,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let is_static = is_static_file(req.uri().path());
        let id = req.extensions().get::<RequestId>().cloned();
        let hsts = self.hsts;
        let app_name = self.app_name.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?.map(Body::new);
            let mut response = if is_bare_error(&response) {
                let id = id.as_ref().and_then(|id| id.header_value().to_str().ok());
                error_page::render(response.status(), id)
            } else {
                response
            };
            if let Some(name) = app_name {
                rename_error_page(&mut response, &name);
            }
            let kept = is_static
                && (response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED);
            finish(response.headers_mut(), kept, hsts);
            Ok(response)
        })
    }
}

/// Writes an error page again under the app's configured name (status, headers and
/// cookies stay as they were).
fn rename_error_page(response: &mut Response, app_name: &str) {
    if let Some(page) = response.extensions_mut().remove::<ErrorPage>() {
        let html = page.html(response.status(), app_name);
        response.headers_mut().remove(header::CONTENT_LENGTH);
        *response.body_mut() = Body::from(html);
    }
}

/// The static files of the site (`/pkg/…`, the favicon, `/passkeys.js`).
fn is_static_file(path: &str) -> bool {
    path.starts_with("/pkg/") || matches!(path, "/favicon.svg" | "/passkeys.js")
}

/// A bare-bones error from a tower layer (408 from the timeout, 413 from the body limit,
/// 500 from the panic catcher): one with neither a page nor JSON in it.
fn is_bare_error(response: &Response) -> bool {
    matches!(response.status().as_u16(), 408 | 413 | 500)
        && !response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html") || v.starts_with("application/json"))
}

/// Sets the headers of every answer.
///
/// What a browser or a proxy may keep: every answer built for a request — pages (a
/// signed-in user's pages show their data), server-function answers, redirects, errors —
/// is `no-store`, page-cache hits included: nothing of it stays in a shared browser's
/// cache or a proxy. The static files of the site (`kept_file`) may be kept, but are
/// revalidated on each use (`no-cache`: a 304 when unchanged), because their names carry
/// no content hash and a new deployment must be seen at once.
fn finish(headers: &mut HeaderMap, kept_file: bool, hsts: bool) {
    let cache = if kept_file { "public, no-cache" } else { "no-store" };
    let fixed: [(HeaderName, &'static str); 6] = [
        (header::CACHE_CONTROL, cache),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "strict-origin-when-cross-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (HeaderName::from_static("permissions-policy"), PERMISSIONS_POLICY),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(DEFAULT_CSP),
        );
    }
    if hsts {
        headers.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static(HSTS));
    }
}

/// The answer to a panicking handler (tower-http's `CatchPanic`): the message goes to
/// the log, inside the request's span (which names its id); the user gets the 500
/// page from [`Secure`].
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
