//! Around every server function (`POST /api/<name>`): form hygiene before the function
//! runs, and the HTTP status of its error after. A layer rather than a handler, because
//! leptos_axum routes each server function itself. The form check is written here
//! because decoding crates are lenient by design (a stray `%` or bad UTF-8 passes
//! through), and this check exists to refuse exactly that.

use super::{csrf::refuse, BODY_LIMIT_BYTES};
use crate::{domain::percent_decode_strict, model::AppError};
use axum::{
    body::{to_bytes, Body},
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{header, HeaderValue, Method, StatusCode};
use std::collections::HashSet;

/// The path prefix of server functions.
pub const PREFIX: &str = "/api/";

/// Checks the form of a server-function call, runs it, and gives its error the right status.
pub async fn check_call(req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with(PREFIX) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = AppError::new(
                crate::model::ErrorKind::PayloadTooLarge,
                "The request is too large.",
            );
            return refuse(&parts.headers, error);
        }
    };
    // Media types are case-insensitive ("Application/X-WWW-Form-URLEncoded" is a form too).
    let urlencoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| {
            essence
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if urlencoded {
        if let Err(message) = check_form(&bytes) {
            return refuse(&parts.headers, AppError::bad_request(message));
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    apply_error_status(response).await
}

/// Checks a urlencoded form the way a browser writes one: valid percent-escapes, UTF-8,
/// no control characters but tab and line breaks, and each field at most once.
pub fn check_form(body: &[u8]) -> Result<(), &'static str> {
    let mut seen = HashSet::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let mut parts = pair.splitn(2, |&b| b == b'=');
        let key = decode(parts.next().unwrap_or_default())?;
        let value = decode(parts.next().unwrap_or_default())?;
        if key
            .chars()
            .chain(value.chars())
            .any(|c| c.is_control() && !matches!(c, '\t' | '\r' | '\n'))
        {
            return Err("The form contains characters that are not allowed.");
        }
        if !seen.insert(key) {
            return Err("The form has a field more than once.");
        }
    }
    Ok(())
}

/// One form key or value: `+` is a space, then `%XX` escapes, strictly.
fn decode(raw: &[u8]) -> Result<String, &'static str> {
    let spaced: Vec<u8> = raw.iter().map(|&b| if b == b'+' { b' ' } else { b }).collect();
    percent_decode_strict(&spaced).ok_or("The form data is malformed.")
}

/// server_fn answers every error with 500; the error itself knows better. A JavaScript
/// caller gets the status of the error's kind (and `Retry-After` when throttled). A
/// plain form post is a redirect back to the form and is left alone.
async fn apply_error_status(response: Response) -> Response {
    let is_error = response
        .headers()
        .contains_key(leptos::server_fn::error::SERVER_FN_ERROR_HEADER);
    if !is_error || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match to_bytes(body, 64 * 1024).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(error = %e, "unreadable server function error");
            return (StatusCode::INTERNAL_SERVER_ERROR, "").into_response();
        }
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        if let Ok(status) = StatusCode::from_u16(error.status()) {
            parts.status = status;
        }
        if let Some(seconds) = error.retry_after {
            if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                parts.headers.insert(header::RETRY_AFTER, value);
            }
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_forms_pass() {
        for body in [
            "",
            "a=1&b=2",
            "username=alice&password=p%C3%A4ss+word&next=%2Fmembers",
            "x=",
            "x",
            "a=1&&b=2",
            "t=line%0Abreak%09tab",
        ] {
            assert!(check_form(body.as_bytes()).is_ok(), "{body}");
        }
    }

    #[test]
    fn malformed_forms_are_refused() {
        for body in [
            "a=%zz",
            "a=%4",
            "a=%",
            "a=%FF",
            "a=%C3%28",
            "a=x%00y",
            "a=%1B",
            "username=a&username=b",
            "a=1&a=1",
            "us%65rname=a&username=b",
        ] {
            assert!(check_form(body.as_bytes()).is_err(), "{body}");
        }
        assert!(check_form(b"a=\xff").is_err(), "raw invalid UTF-8");
    }
}
