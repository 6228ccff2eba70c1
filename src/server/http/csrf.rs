//! Cross-site request refusal, for every route: pages, forms and
//! server-function endpoints alike. Written here rather than taken from a CSRF-token
//! crate: a per-user token in every form would make each page unique per response and
//! defeat the page cache, while Fetch Metadata and Origin need no state at all.
//!
//! A request that can change state (any method but GET, HEAD and OPTIONS) is refused
//! with 403 when
//! - `Sec-Fetch-Site` is present and is not `same-origin`, or
//! - `Origin` is present and is not the origin of `GATEHOUSE_PUBLIC_URL`, or
//! - it carries neither, is of a kind an HTML form can send (urlencoded, multipart,
//!   text/plain or no type), and its `Referer` is missing or from another origin.
//!
//! A GET or HEAD that names another host than the public URL's is redirected there
//! first (`super::host`): the same layer holds the public origin.
//!
//! Modern browsers send `Sec-Fetch-Site` and `Origin` on every such request; the
//! `Referer` rule covers old ones. The session cookie is `SameSite=Lax` as well, so a
//! cross-site form would arrive signed out even if it got through.

use super::error_page;
use crate::model::{AppError, MSG_CROSS_SITE};
use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// The origin requests must come from, and its host name (lowercase): a page asked for
/// under another name is redirected there first (`super::host`).
#[derive(Clone, Debug)]
pub struct CsrfPolicy {
    pub origin: Arc<str>,
    pub host: Arc<str>,
}

/// Why a request was refused (for the log).
fn verdict(origin: &str, headers: &HeaderMap) -> Result<(), String> {
    let fetch_site = headers.get("sec-fetch-site");
    if let Some(site) = fetch_site {
        if site.as_bytes() != b"same-origin" {
            return Err(format!("Sec-Fetch-Site is {:?}", site));
        }
    }
    let request_origin = headers.get(header::ORIGIN);
    if let Some(value) = request_origin {
        if value.as_bytes() != origin.as_bytes() {
            return Err(format!("Origin {:?} is not {origin}", value));
        }
    }
    if fetch_site.is_none() && request_origin.is_none() && is_form_like(headers) {
        let referer_origin = headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| url::Url::parse(v).ok())
            .map(|u| u.origin().ascii_serialization());
        if referer_origin.as_deref() != Some(origin) {
            return Err(format!("no Origin and a Referer from {referer_origin:?}"));
        }
    }
    Ok(())
}

/// Content types a cross-site HTML form can send without asking.
fn is_form_like(headers: &HeaderMap) -> bool {
    match headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(value) => {
            let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            matches!(
                essence.as_str(),
                "application/x-www-form-urlencoded" | "multipart/form-data" | "text/plain" | ""
            )
        }
    }
}

/// True when the client wants an HTML page back (a browser without JavaScript).
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// An error answer in the form the client expects: the error page for a browser, the
/// JSON `AppError` (what server functions answer) for everything else.
pub fn refuse(headers: &HeaderMap, error: AppError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    if wants_html(headers) {
        return error_page::render_with_message(status, "Request refused", &error.message, None);
    }
    let body = serde_json::to_string(&error).unwrap_or_else(|_| "{}".to_owned());
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub async fn check(State(policy): State<CsrfPolicy>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(redirect) = super::host::redirect(&req, &policy.host, &policy.origin) {
            return redirect;
        }
        return next.run(req).await;
    }
    match verdict(&policy.origin, req.headers()) {
        Ok(()) => next.run(req).await,
        Err(reason) => {
            tracing::warn!(
                %reason,
                path = %req.uri().path(),
                "cross-site request refused (if the site is reached at another address, set GATEHOUSE_PUBLIC_URL to it)"
            );
            refuse(
                req.headers(),
                AppError::new(crate::model::ErrorKind::Forbidden, MSG_CROSS_SITE),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGIN: &str = "https://app.example";

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_origin_requests_pass() {
        for pairs in [
            vec![("sec-fetch-site", "same-origin"), ("origin", ORIGIN)],
            vec![
                ("origin", ORIGIN),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            vec![("sec-fetch-site", "same-origin")],
            vec![
                ("referer", "https://app.example/login?next=/x"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            vec![("content-type", "application/json")],
        ] {
            assert!(verdict(ORIGIN, &headers(&pairs)).is_ok(), "{pairs:?}");
        }
    }

    #[test]
    fn cross_site_requests_are_refused() {
        for pairs in [
            vec![("sec-fetch-site", "cross-site"), ("origin", ORIGIN)],
            vec![("sec-fetch-site", "same-site")],
            vec![("sec-fetch-site", "none")],
            vec![("origin", "https://evil.example")],
            vec![("origin", "null")],
            vec![("origin", "https://app.example.evil.example")],
            vec![("origin", "http://app.example")],
            vec![("content-type", "application/x-www-form-urlencoded")],
            vec![("content-type", "text/plain")],
            vec![("content-type", "multipart/form-data; boundary=x")],
            vec![],
            vec![
                ("referer", "https://evil.example/app.example"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            vec![("referer", "not a url")],
            vec![
                ("origin", "https://evil.example"),
                ("content-type", "application/json"),
            ],
        ] {
            assert!(verdict(ORIGIN, &headers(&pairs)).is_err(), "{pairs:?}");
        }
    }
}
