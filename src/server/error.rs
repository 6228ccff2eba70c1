//! Where failures become answers. The status of each `ErrorKind` is decided by
//! `ErrorKind::status`; server-function answers get it in `http::server_fn`, pages here.
//! Causes stay in the log, next to the request id the user is shown.

use super::{auth::password::HashError, context::request_id};
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

/// Storage and other unexpected failures are internal errors: `?` logs them (with the
/// request id) and answers the id only.
impl From<anyhow::Error> for AppError {
    fn from(err: anyhow::Error) -> AppError {
        internal(err)
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> AppError {
        internal(err.into())
    }
}

/// Saturated hashing is a 503 with a hint to retry; any other hashing failure is internal.
impl From<HashError> for AppError {
    fn from(err: HashError) -> AppError {
        match err {
            HashError::Busy => AppError {
                retry_after: Some(5),
                ..AppError::unavailable("The server is busy right now. Please try again in a few seconds.")
            },
            HashError::Other(e) => internal(e),
        }
    }
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
