//! A request id for every request: echoed in `x-request-id`, attached to the log span,
//! shown on error pages. tower-http's `SetRequestId` and `PropagateRequestId` layers
//! carry it; this module makes the ids and drops any id a client sent, so ids stay
//! unique and ours (`SetRequestId` would keep a client's).

use axum::{extract::Request, http::Extensions};
use http::HeaderName;
use std::future::Future;
use tower_http::request_id::{MakeRequestId, RequestId};

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes request ids: 16 lowercase hex characters from the thread's random generator.
#[derive(Clone, Copy, Debug, Default)]
pub struct HexIds;

impl MakeRequestId for HexIds {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let value: u64 = rand::random();
        http::HeaderValue::from_str(&format!("{value:016x}"))
            .ok()
            .map(RequestId::new)
    }
}

/// Removes an `x-request-id` the client sent (runs before the id is set).
pub fn drop_client_id(mut req: Request) -> Request {
    req.headers_mut().remove(&X_REQUEST_ID);
    req
}

tokio::task_local! {
    /// The id of the request the task is serving.
    static SERVING: String;
}

/// Runs `serve`, the handling of the request `id`, inside the id's scope (the session
/// layer does, for everything below it): code that runs for it, in a page, a server
/// function or a plain handler, finds it with [`current`] without being handed it.
pub async fn serving<F: Future>(id: Option<String>, serve: F) -> F::Output {
    match id {
        Some(id) => SERVING.scope(id, serve).await,
        None => serve.await,
    }
}

/// The id of the request this task serves, if it serves one.
pub fn current() -> Option<String> {
    SERVING.try_with(Clone::clone).ok()
}

/// The id of the request whose extensions these are.
pub fn of(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<RequestId>()
        .and_then(|id| id.header_value().to_str().ok())
}
