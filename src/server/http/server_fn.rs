//! Around every server function (`POST /api/<name>`): form hygiene before the function
//! runs, and the HTTP status of its error after. A layer rather than a handler, because
//! leptos_axum routes each server function itself. The form check is written here
//! because decoding crates are lenient by design (a stray `%` or bad UTF-8 passes
//! through), and this check exists to refuse exactly that.

use super::{
    csrf::{refuse, wants_html},
    BODY_LIMIT_BYTES,
};
use crate::server::keys::{Keys, Purpose};
use crate::{
    domain::{encode_query_value, percent_decode_strict},
    model::{AppError, ErrorKind},
};
use axum::{
    body::{to_bytes, Body},
    extract::{Request, State},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine;
use http::{header, HeaderValue, Method, StatusCode};
use std::collections::HashSet;

/// The path prefix of server functions.
pub const PREFIX: &str = "/api/";

/// Checks the form of a server-function call, runs it, and gives its error the right
/// status; a plain form post's error is sent back to its page tagged as ours.
pub async fn check_call(State(keys): State<Keys>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST || !req.uri().path().starts_with(PREFIX) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match to_bytes(body, BODY_LIMIT_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = AppError::new(ErrorKind::PayloadTooLarge, "The request is too large.");
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
    let wants_page = wants_html(&parts.headers);
    let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
    if wants_page {
        if let Some(reauth) = reauth_instead(&response) {
            return reauth;
        }
        return tag_error_link(&keys, response);
    }
    apply_error_status(response).await
}

/// What an error link's tag covers: the server function and its error.
fn error_link_data(path: &str, error: &str) -> Vec<u8> {
    [path.as_bytes(), b"\n", error.as_bytes()].concat()
}

/// A plain form post that failed is sent back to its page with the error in the
/// address (`__path`, `__err`, which the page shows); `__sig` proves the server wrote
/// it, so nobody can link to a page showing a message of their own.
fn tag_error_link(keys: &Keys, mut response: Response) -> Response {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    let Ok(mut url) = url::Url::parse(location) else {
        return response;
    };
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let (Some(path), Some(error)) = (value("__path"), value("__err")) else {
        return response;
    };
    let tag = keys.tag(Purpose::ErrorUrl, &error_link_data(path, error));
    url.query_pairs_mut().append_pair("__sig", &tag);
    if let Ok(tagged) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, tagged);
    }
    response
}

/// Pages: an address carrying a form error (`__err`) that the server did not write is
/// answered with a redirect to the same page without it.
pub async fn check_error_link(State(keys): State<Keys>, req: Request, next: Next) -> Response {
    let reading = matches!(*req.method(), Method::GET | Method::HEAD);
    let Some(query) = req.uri().query().filter(|q| reading && q.contains("__err")) else {
        return next.run(req).await;
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let value = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let genuine = match (value("__path"), value("__err"), value("__sig")) {
        (Some(path), Some(error), Some(tag)) => {
            keys.verify_tag(Purpose::ErrorUrl, &error_link_data(path, error), tag)
        }
        _ => false,
    };
    if genuine {
        return next.run(req).await;
    }
    let kept: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "__path" | "__err" | "__sig"))
        .map(|(k, v)| format!("{}={}", encode_query_value(k), encode_query_value(v)))
        .collect();
    let path = req.uri().path();
    let clean = match kept.is_empty() {
        true => path.to_owned(),
        false => format!("{path}?{}", kept.join("&")),
    };
    Redirect::to(&clean).into_response()
}

/// The error a plain form post was redirected back with (`?__err=…` on the form's page),
/// and that page's address without it.
fn redirected_error(response: &Response) -> Option<(AppError, String)> {
    if !response.status().is_redirection() {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    let url = url::Url::parse(location)
        .or_else(|_| url::Url::parse("http://localhost/")?.join(location))
        .ok()?;
    let encoded = url.query_pairs().find(|(k, _)| k == "__err")?.1.into_owned();
    let json = base64::engine::general_purpose::URL_SAFE.decode(encoded).ok()?;
    let error = serde_json::from_slice::<AppError>(&json).ok()?;
    let query: Vec<String> = url
        .query_pairs()
        .filter(|(k, _)| k != "__err" && k != "__path")
        .map(|(k, v)| format!("{}={}", encode_query_value(&k), encode_query_value(&v)))
        .collect();
    let page = match query.is_empty() {
        true => url.path().to_owned(),
        false => format!("{}?{}", url.path(), query.join("&")),
    };
    Some((error, page))
}

/// A plain form post that needs the user to confirm it's them goes to `/reauth`, which
/// returns to the form's page afterwards (with JavaScript the form does the same).
fn reauth_instead(response: &Response) -> Option<Response> {
    let (error, page) = redirected_error(response)?;
    (error.kind == ErrorKind::ReauthRequired)
        .then(|| Redirect::to(&format!("/reauth?next={}", encode_query_value(&page))).into_response())
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
