//! One host name per site. A page reached under another name of the same server (the
//! listening address `127.0.0.1`, a second DNS name) is sent to the public URL with a
//! 308, so cookies, passkeys (bound to the relying-party id, the public host) and the
//! cross-site checks all see one origin. Only GET and HEAD are redirected: a POST under
//! the wrong name is refused by the cross-site check instead. The health checks and
//! `/metrics` answer under any name, for load balancers and scrapers that reach each
//! instance by its own address.

use axum::{
    extract::Request,
    response::{IntoResponse, Response},
};
use http::{header, HeaderValue, Method, StatusCode};

/// Paths answered under any host name.
const ANY_HOST: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// The host name of a `Host` header value, without the port.
fn host_name(value: &str) -> &str {
    if value.starts_with('[') {
        value.split_inclusive(']').next().unwrap_or(value)
    } else {
        value.split(':').next().unwrap_or(value)
    }
}

/// The 308 to `origin` for a GET or HEAD that names another host than `host` (the
/// public URL's, lowercase); `None` for every other request. Run by the cross-site
/// layer, which already holds the public origin (one layer, no allocation when the
/// name is right).
pub fn redirect(req: &Request, host: &str, origin: &str) -> Option<Response> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) || ANY_HOST.contains(&req.uri().path()) {
        return None;
    }
    let named = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    if host_name(named).eq_ignore_ascii_case(host) {
        return None;
    }
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    Some(match HeaderValue::from_str(&format!("{origin}{path}")) {
        Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    })
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_port_is_not_part_of_the_name() {
        assert_eq!(host_name("LocalHost:3000"), "LocalHost");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }
}
