//! A request id for every request: echoed in `x-request-id`, attached to the log
//! span, shown on error pages; and the layer where a panicking handler becomes a 500 page.

use super::error_page;
use axum::{extract::Request, middleware::Next, response::Response};
use futures::FutureExt;
use http::{HeaderName, HeaderValue, StatusCode};
use std::{fmt, panic::AssertUnwindSafe, sync::Arc};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one request: 16 lowercase hex characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(Arc<str>);

impl RequestId {
    fn generate() -> RequestId {
        let value: u64 = rand::random();
        RequestId(format!("{value:016x}").into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Assigns the id, replacing any the client sent, so ids stay unique and ours.
pub async fn assign(mut req: Request, next: Next) -> Response {
    let id = RequestId::generate();
    let header = HeaderValue::from_str(id.as_str()).ok();
    if let Some(value) = &header {
        req.headers_mut().insert(X_REQUEST_ID.clone(), value.clone());
    }
    req.extensions_mut().insert(id);
    let mut response = next.run(req).await;
    if let Some(value) = header {
        response.headers_mut().insert(X_REQUEST_ID.clone(), value);
    }
    response
}

/// Turns a panic anywhere below into the 500 page carrying the request id; the panic
/// message goes to the log only. Sits inside the headers layer, so the page gets them.
pub async fn catch_panics(req: Request, next: Next) -> Response {
    let id = req.extensions().get::<RequestId>().cloned();
    match AssertUnwindSafe(next.run(req)).catch_unwind().await {
        Ok(response) => response,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            let id = id.as_ref().map(RequestId::as_str).unwrap_or("unknown");
            tracing::error!(request_id = %id, panic = %message, "handler panicked");
            error_page::render(StatusCode::INTERNAL_SERVER_ERROR, Some(id))
        }
    }
}
