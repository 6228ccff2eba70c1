//! What every answer gets on its way out — pages, redirects, errors, health checks and
//! server-function answers alike: the security headers, the cache policy, the error
//! page in place of a bare error from a tower layer (timeout, body limit, panic), which
//! needs the request id, and every error page under the configured app name. One tower layer does all three, wrapping the answer's future:
//! it sits around the whole site once, so a request pays for one small allocation here
//! instead of a stack of layers cloned for each request.

use super::error_page::{self, ErrorPage, PageLook};
use crate::server::site::files::SiteFiles;
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
    /// `None` for the default name and stylesheet, which error pages are made with already.
    look: Option<Arc<PageLook>>,
    files: Arc<SiteFiles>,
}

impl SecureLayer {
    /// `app_name` and the site's `files` are what error pages are written with again.
    pub fn new(hsts: bool, app_name: &str, files: Arc<SiteFiles>) -> Self {
        let look = PageLook {
            app_name: app_name.into(),
            stylesheet: files.css.as_str().into(),
        };
        Self {
            hsts,
            look: (look != PageLook::default()).then(|| Arc::new(look)),
            files,
        }
    }
}

impl<S> tower::Layer<S> for SecureLayer {
    type Service = Secure<S>;

    fn layer(&self, inner: S) -> Secure<S> {
        Secure {
            inner,
            hsts: self.hsts,
            look: self.look.clone(),
            files: self.files.clone(),
        }
    }
}

/// Finishes each answer of the service inside: see the module's documentation.
#[derive(Clone, Debug)]
pub struct Secure<S> {
    inner: S,
    hsts: bool,
    look: Option<Arc<PageLook>>,
    files: Arc<SiteFiles>,
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
        let path = req.uri().path();
        let linked = req.uri().path_and_query().map_or(path, |pq| pq.as_str());
        let file = if self.files.is_immutable(linked) {
            Some(Keep::Forever)
        } else if is_static_file(path) {
            Some(Keep::Revalidated)
        } else {
            None
        };
        let id = req.extensions().get::<RequestId>().cloned();
        let hsts = self.hsts;
        let look = self.look.clone();
        let answer = self.inner.call(req);
        Box::pin(async move {
            let response = answer.await?.map(Body::new);
            let mut response = if is_bare_error(&response) {
                let id = id.as_ref().and_then(|id| id.header_value().to_str().ok());
                error_page::render(response.status(), id)
            } else {
                response
            };
            if let Some(look) = look {
                restyle_error_page(&mut response, &look);
            }
            let kept = (response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED)
                .then_some(file)
                .flatten();
            finish(response.headers_mut(), kept, hsts);
            Ok(response)
        })
    }
}

/// How long a browser may keep a static file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Keep {
    /// Its name changes with its content: for good.
    Forever,
    /// Its name stays: kept, but asked about on each use.
    Revalidated,
}

/// Writes an error page again under the app's configured name and stylesheet (status,
/// headers and cookies stay as they were).
fn restyle_error_page(response: &mut Response, look: &PageLook) {
    if let Some(page) = response.extensions_mut().remove::<ErrorPage>() {
        let html = page.html(response.status(), look);
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
/// cache or a proxy. The static files of the site (`kept`) may be kept: for a year and
/// never asked about again when their names carry a content hash, otherwise revalidated on
/// each use (`no-cache`: a 304 when unchanged), so that a new deployment is seen at once.
fn finish(headers: &mut HeaderMap, kept: Option<Keep>, hsts: bool) {
    let cache = match kept {
        Some(Keep::Forever) => "public, max-age=31536000, immutable",
        Some(Keep::Revalidated) => "public, no-cache",
        None => "no-store",
    };
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
