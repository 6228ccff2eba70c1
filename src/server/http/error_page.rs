//! Error pages answered outside the Leptos app: panics, oversized bodies, timeouts,
//! refused cross-site requests, throttling before a handler runs. Plain HTML with the
//! site's stylesheet, no script. They are made where the error happens, under the
//! default name and an unhashed build's stylesheet; each carries an [`ErrorPage`], from
//! which the outermost layer (`headers::Secure`) writes the page again under the
//! configured app name and with the build's stylesheet.

use crate::server::site::files::PLAIN_STYLESHEET;
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
    let page = ErrorPage {
        title: title.to_owned(),
        message: message.to_owned(),
        request_id: request_id.map(str::to_owned),
    };
    let mut response = (status, page.html(status, &PageLook::default())).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response.extensions_mut().insert(page);
    response
}

/// What an error page says, kept on its response.
#[derive(Clone, Debug)]
pub struct ErrorPage {
    title: String,
    message: String,
    request_id: Option<String>,
}

/// What an error page is written with: the app's name and the site's stylesheet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageLook {
    pub app_name: Box<str>,
    pub stylesheet: Box<str>,
}

impl Default for PageLook {
    /// The default name and an unhashed build's stylesheet: what pages are made with
    /// where the error happens.
    fn default() -> Self {
        PageLook {
            app_name: crate::model::DEFAULT_APP_NAME.into(),
            stylesheet: PLAIN_STYLESHEET.into(),
        }
    }
}

impl ErrorPage {
    /// The page for `status`, written with `look`.
    pub fn html(&self, status: StatusCode, look: &PageLook) -> String {
        let id_line = self
            .request_id
            .as_deref()
            .map(|id| format!("<p class=\"muted\">Request id: <code>{}</code></p>", escape(id)))
            .unwrap_or_default();
        format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · {app}</title><link rel=\"stylesheet\" href=\"{css}\"></head>\
         <body><div class=\"shell\"><header class=\"site-header\"><nav class=\"nav\"><a class=\"brand\" href=\"/\">{app}</a></nav></header>\
         <main class=\"main\"><section class=\"card error-card\"><p class=\"status-code\">{code}</p><h1>{title}</h1>\
         <p role=\"alert\">{message}</p>{id_line}<p><a class=\"button\" href=\"/\">Back to the home page</a></p></section></main></div></body></html>",
            title = escape(&self.title),
            app = escape(&look.app_name),
            css = escape(&look.stylesheet),
            code = status.as_u16(),
            message = escape(&self.message),
        )
    }
}
