//! `GET /metrics`: the process-wide recorder's figures (`server::metrics`) and this
//! server's own, read now: its page cache and its database's mail queue.

use axum::{
    extract::State,
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use crate::server::{
    db,
    http::error_page,
    metrics::{install, MAIL_UNDECRYPTABLE},
    state::AppState,
};

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let allowed = match (&state.config.metrics_token, presented) {
        (Some(token), Some(presented)) => token.matches(presented.trim()),
        _ => false,
    };
    if !allowed {
        return error_page::render(StatusCode::NOT_FOUND, None);
    }
    let Some(handle) = install() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "metrics are unavailable\n").into_response();
    };
    let mut text = handle.render();
    // This server's own figures, read now: its page cache and its database's mail queue
    // (not process-wide, unlike the recorder).
    let cache = &state.page_cache;
    own(
        &mut text,
        "gatehouse_page_cache_hits_total",
        "counter",
        "Pages answered from the page cache.",
        cache.hits(),
    );
    own(
        &mut text,
        "gatehouse_page_cache_misses_total",
        "counter",
        "Cacheable pages that had to be rendered.",
        cache.misses(),
    );
    let queued = match state.db.conn().await {
        Ok(mut conn) => match db::email::queue_length(conn.exec()).await {
            Ok(length) => db::email::undecryptable(conn.exec())
                .await
                .map(|stuck| (length, stuck)),
            Err(err) => Err(err),
        },
        Err(err) => Err(err),
    };
    match queued {
        Ok((length, undecryptable)) => {
            own(
                &mut text,
                "gatehouse_mail_queue_length",
                "gauge",
                "Messages waiting to be sent.",
                u64::try_from(length).unwrap_or(0),
            );
            own(
                &mut text,
                MAIL_UNDECRYPTABLE,
                "gauge",
                "Queued messages an instance could not open with its keys, waiting for one that can.",
                u64::try_from(undecryptable).unwrap_or(0),
            );
        }
        Err(err) => tracing::warn!(error = %err, "mail queue length unavailable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Appends one metric without labels to `text`, with its help and type lines.
fn own(text: &mut String, name: &str, kind: &str, help: &str, value: u64) {
    use std::fmt::Write as _;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    let _ = write!(
        text,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
    );
}
