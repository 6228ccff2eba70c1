//! HTTP layers wrapped around the router, outermost first:
//! request id → tracing → security headers → panic catcher → timeout → body limit →
//! compression → cross-site refusal → cookies → client info + session validation →
//! route guards → page cache; server functions also pass form hygiene (`server_fn`).

pub mod client;
pub mod csp;
pub mod csrf;
pub mod error_page;
pub mod guard;
pub mod headers;
pub mod page_cache;
pub mod request_id;
pub mod server_fn;
