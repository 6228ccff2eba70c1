//! One host name per site. A page reached under another name of the same server (the
//! listening address `127.0.0.1`, a second DNS name) is sent to the public URL with a
//! 308, so cookies, passkeys (bound to the relying-party id, the public host) and the
//! cross-site checks all see one origin. Only GET and HEAD are redirected: a POST under
//! the wrong name is refused by the cross-site check instead. The health checks answer
//! under any name, for load balancers that probe by address.

use axum::{
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{header, HeaderValue, Method, StatusCode};
use std::sync::Arc;

/// The public URL's host and origin.
#[derive(Clone, Debug)]
pub struct CanonicalHost {
    /// Lowercase host name (`example.com`, `localhost`, `[::1]`).
    pub host: Arc<str>,
    /// `https://example.com` (no trailing slash).
    pub origin: Arc<str>,
}

/// Paths answered under any host name.
const ANY_HOST: [&str; 2] = ["/healthz", "/readyz"];

/// The host name of a `Host` header value, without the port, lowercase.
fn host_name(value: &str) -> String {
    let name = if value.starts_with('[') {
        value.split_inclusive(']').next().unwrap_or(value)
    } else {
        value.split(':').next().unwrap_or(value)
    };
    name.to_ascii_lowercase()
}

pub async fn redirect_other_names(
    State(canonical): State<CanonicalHost>,
    req: Request,
    next: Next,
) -> Response {
    let redirect = matches!(*req.method(), Method::GET | Method::HEAD)
        && !ANY_HOST.contains(&req.uri().path())
        && req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .is_some_and(|v| host_name(v) != *canonical.host);
    if !redirect {
        return next.run(req).await;
    }
    let path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let target = format!("{}{}", canonical.origin, path);
    match HeaderValue::from_str(&target) {
        Ok(location) => (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, location)]).into_response(),
        Err(_) => StatusCode::BAD_REQUEST.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::host_name;

    #[test]
    fn the_port_is_not_part_of_the_name() {
        assert_eq!(host_name("LocalHost:3000"), "localhost");
        assert_eq!(host_name("example.com"), "example.com");
        assert_eq!(host_name("127.0.0.1:8080"), "127.0.0.1");
        assert_eq!(host_name("[::1]:3000"), "[::1]");
        assert_eq!(host_name("[::1]"), "[::1]");
    }
}
