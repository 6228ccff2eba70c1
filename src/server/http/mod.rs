//! HTTP layers that know nothing about users: request ids, security headers, error
//! pages, cross-site refusal, client addresses, the page policy and server-function
//! hygiene. Outermost first: request id → tracing → security headers → panic catcher →
//! timeout → body limit → compression → cross-site refusal (and one host name); the layers that need the
//! signed-in user (session, access, page cache) are in `auth` and `site`.

pub mod client;
pub mod csp;
pub mod csrf;
pub mod error_page;
pub mod headers;
pub mod host;
pub mod request_id;
pub mod server_fn;

/// Largest request body accepted; larger ones get 413.
pub const BODY_LIMIT_BYTES: usize = 64 * 1024;
