//! Server functions: the only way the browser changes anything. Each one is thin:
//! read the request context, call into `server::`, map the error to its status.

pub mod admin;
pub mod auth;
pub mod email;
pub mod security;
pub mod settings;
