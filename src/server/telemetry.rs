//! Logging. `RUST_LOG` overrides the default filter.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// The filter of a running server when `RUST_LOG` is not set.
pub const SERVER_FILTER: &str = "info,sqlx=warn,tower_http=info,leptos_axum=warn";
/// The filter of one-shot commands: only what needs attention.
pub const COMMAND_FILTER: &str = "warn";

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(default_filter: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(fmt::layer().with_target(false))
        .try_init();
}
