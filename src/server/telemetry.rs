//! Logging. `RUST_LOG` overrides the default filter.

use tracing_subscriber::{fmt, prelude::*, EnvFilter};

/// The filter of a running server when `RUST_LOG` is not set.
pub const SERVER_FILTER: &str = "info,sqlx=warn,tower_http=info,leptos_axum=warn";
/// The filter of one-shot commands: only what needs attention.
pub const COMMAND_FILTER: &str = "warn";

/// How log lines are written (`GATEHOUSE_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// For people: one readable line per event.
    #[default]
    Text,
    /// For log collectors: one JSON object per line, with the fields of the spans it
    /// happened in (a request's `id`, method and path).
    Json,
}

/// Installs the global subscriber once; later calls (tests) are ignored.
pub fn init(default_filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => registry.with(fmt::layer().with_target(false)).try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_target(false)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init(),
    };
}
