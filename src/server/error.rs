//! Where failures become answers. The status of each `ErrorKind` is decided by
//! `ErrorKind::status`; server-function answers get it in `http::server_fn`, pages here.
//! Causes stay in the log, next to the request id the user is shown.

use super::context::request_id;
use crate::model::AppError;
use http::StatusCode;
use leptos::prelude::use_context;
use leptos_axum::ResponseOptions;

/// An unexpected failure: logged with its cause and the request id; the user sees only the id.
pub fn internal(err: anyhow::Error) -> AppError {
    let id = request_id();
    tracing::error!(request_id = %id, error = format!("{err:#}"), "request failed");
    AppError::internal(&id)
}

/// Sets the status of the page being rendered (403, 404, 500 pages).
pub fn set_page_status(status: u16) {
    if let (Some(response), Ok(status)) = (use_context::<ResponseOptions>(), StatusCode::from_u16(status)) {
        response.set_status(status);
    }
}

/// A failure below the app (in a layer): logged with its cause, answered with the
/// 503 page when the database is unreachable and the 500 page otherwise.
pub fn internal_page(err: anyhow::Error, request_id: Option<&str>) -> axum::response::Response {
    let id = request_id.unwrap_or("unknown");
    tracing::error!(request_id = %id, error = format!("{err:#}"), "request failed in a layer");
    let unreachable = err.chain().any(|cause| {
        cause.downcast_ref::<sqlx::Error>().is_some_and(|e| {
            matches!(
                e,
                sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
            )
        })
    });
    let status = if unreachable {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    super::http::error_page::render(status, Some(id))
}
