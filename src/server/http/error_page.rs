//! Error pages answered outside the Leptos app: panics, oversized bodies, timeouts,
//! refused cross-site requests, throttling before a handler runs. Plain HTML with the
//! site's stylesheet, no script.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> std::borrow::Cow<'_, str> {
    html_escape::encode_quoted_attribute(text)
}

fn title_and_text(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => ("Bad request", "The request could not be understood."),
        403 => ("Forbidden", "You don't have permission to do that."),
        404 => ("Page not found", "There is nothing at this address."),
        408 => ("Request timeout", "The request took too long. Please try again."),
        413 => (
            "Request too large",
            "The request was larger than this site accepts.",
        ),
        429 => ("Too many requests", "Please wait a moment and try again."),
        503 => (
            "Service unavailable",
            "The service is busy or down for a moment. Please try again shortly.",
        ),
        _ => (
            "Something went wrong",
            "An unexpected error stopped this request. It has been logged.",
        ),
    }
}

/// A complete error page for `status`; with a request id when one should be quoted.
pub fn render(status: StatusCode, request_id: Option<&str>) -> Response {
    let (title, text) = title_and_text(status);
    render_with_message(status, title, text, request_id)
}

/// An error page with a specific message.
pub fn render_with_message(
    status: StatusCode,
    title: &str,
    message: &str,
    request_id: Option<&str>,
) -> Response {
    let id_line = request_id
        .map(|id| format!("<p class=\"muted\">Request id: <code>{}</code></p>", escape(id)))
        .unwrap_or_default();
    let html = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Gatehouse</title><link rel=\"stylesheet\" href=\"/pkg/gatehouse.css\"></head>\
         <body><div class=\"shell\"><header class=\"site-header\"><nav class=\"nav\"><a class=\"brand\" href=\"/\">Gatehouse</a></nav></header>\
         <main class=\"main\"><section class=\"card error-card\"><p class=\"status-code\">{code}</p><h1>{title}</h1>\
         <p role=\"alert\">{message}</p>{id_line}<p><a class=\"button\" href=\"/\">Back to the home page</a></p></section></main></div></body></html>",
        title = escape(title),
        code = status.as_u16(),
        message = escape(message),
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
