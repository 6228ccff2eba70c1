//! The identity core: rules about who has proven what, with no HTTP in them. Nothing
//! under this folder imports axum, leptos, leptos_axum, tower_cookies or http, and reads
//! no clock (`make lint` checks both): callers pass in what they know and the moment, and
//! the rules answer. See docs/architecture.md, "Signing in".

pub mod ceremony;
pub mod factors;
pub mod session;
