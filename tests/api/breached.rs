//! The breached-password check against a fake range API on loopback: a password it
//! lists is refused, one it does not (or lists only as padding) is accepted, and a slow
//! service lets the password through after its 2 s timeout. Only five hex digits of the
//! SHA-1 are ever sent.

use crate::helpers::{expect_status, new_client, spawn_app_with, Backend, GOOD_PASSWORD};
use axum::{extract::Path, http::HeaderMap, routing::get, Router};
use gatehouse::model::MSG_BREACHED;
use reqwest::StatusCode;
use sha1::{Digest, Sha1};
use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

/// What the fake range API answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Range {
    /// Lists the password's suffix, seen 42 times.
    Hit,
    /// Lists the suffix only as a padding line (count 0), among others.
    PaddingOnly,
    /// Answers after 3 s.
    Slow,
    /// Answers 200 with something that is not a range list (a captive portal's page).
    Garbage,
}

/// A fake range API; answers its base URL and the requests it saw (prefix, padding header).
async fn fake_range(mode: Range) -> (String, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let suffix = {
        let digest = hex::encode_upper(Sha1::digest(GOOD_PASSWORD.as_bytes()));
        digest[5..].to_owned()
    };
    let log = seen.clone();
    let app = Router::new().route(
        "/range/{prefix}",
        get(move |Path(prefix): Path<String>, headers: HeaderMap| {
            let log = log.clone();
            let suffix = suffix.clone();
            async move {
                let padding = headers
                    .get("add-padding")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                log.lock().expect("lock").push((prefix, padding));
                if mode == Range::Slow {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
                if mode == Range::Garbage {
                    return "<html><body>Sign in to the Wi-Fi to continue</body></html>".to_owned();
                }
                let count = if mode == Range::Hit { 42 } else { 0 };
                format!("0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n{suffix}:{count}\r\nFFFFF45C4D1DEF81644B54AB7F969B88D65:1\r\n")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), seen)
}

async fn sign_up_status(
    backend: Backend,
    mode: Range,
) -> Option<(StatusCode, String, Vec<(String, String)>)> {
    let (url, seen) = fake_range(mode).await;
    let app = spawn_app_with(
        backend,
        &[
            ("GATEHOUSE_BREACHED_PASSWORDS", "on"),
            ("GATEHOUSE_BREACHED_PASSWORDS_URL", url.as_str()),
        ],
    )
    .await?;
    let response = app.signup_with(&new_client(), "ada", GOOD_PASSWORD).await;
    let status = response.status();
    let body = response.text().await.expect("body");
    let seen = seen.lock().expect("lock").clone();
    Some((status, body, seen))
}

async fn a_listed_password_is_refused(backend: Backend) {
    let Some((status, body, seen)) = sign_up_status(backend, Range::Hit).await else {
        return;
    };
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains(MSG_BREACHED), "{body}");
    // Five upper-case hex digits, never more; padding asked for.
    let digest = hex::encode_upper(Sha1::digest(GOOD_PASSWORD.as_bytes()));
    assert_eq!(seen, [(digest[..5].to_owned(), "true".to_owned())]);
}

async fn an_unlisted_password_is_accepted_and_padding_never_matches(backend: Backend) {
    let Some((status, body, seen)) = sign_up_status(backend, Range::PaddingOnly).await else {
        return;
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(seen.len(), 1);
}

async fn a_slow_service_lets_the_password_through(backend: Backend) {
    let started = std::time::Instant::now();
    let Some((status, body, seen)) = sign_up_status(backend, Range::Slow).await else {
        return;
    };
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(seen.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(10));
}

async fn the_check_covers_a_password_change(backend: Backend) {
    let (url, seen) = fake_range(Range::Hit).await;
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("GATEHOUSE_BREACHED_PASSWORDS", "on"),
            ("GATEHOUSE_BREACHED_PASSWORDS_URL", url.as_str()),
        ],
    )
    .await
    else {
        return;
    };
    // A password the fake does not list (another prefix still gets the same answer,
    // which does not contain its suffix).
    let client = new_client();
    expect_status(
        app.signup_with(&client, "ada", "a-different-passphrase-for-ada")
            .await,
        StatusCode::OK,
    )
    .await;
    let change = app
        .call_with(
            &client,
            "change_password",
            &[
                ("current_password", "a-different-passphrase-for-ada"),
                ("new_password", GOOD_PASSWORD),
            ],
        )
        .await;
    let body = expect_status(change, StatusCode::BAD_REQUEST).await;
    assert!(body.contains(MSG_BREACHED), "{body}");
    assert_eq!(seen.lock().expect("lock").len(), 2);
}

/// A 200 answer that is not a range list says nothing about the password: it is let
/// through, but not silently — the log warns and a metric counts it.
async fn an_answer_that_is_not_a_range_list_is_counted(backend: Backend) {
    const TOKEN: &str = "metrics-token-for-the-tests-0123";
    let (url, seen) = fake_range(Range::Garbage).await;
    let Some(app) = spawn_app_with(
        backend,
        &[
            ("GATEHOUSE_BREACHED_PASSWORDS", "on"),
            ("GATEHOUSE_BREACHED_PASSWORDS_URL", url.as_str()),
            ("GATEHOUSE_METRICS_TOKEN", TOKEN),
        ],
    )
    .await
    else {
        return;
    };
    let scrape = || async {
        let body = new_client()
            .get(app.url("/metrics"))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("scrape")
            .text()
            .await
            .expect("body");
        body.lines()
            .find(|l| l.starts_with("gatehouse_breached_check_failures_total{reason=\"unexpected_answer\"}"))
            .and_then(|l| l.rsplit_once(' '))
            .and_then(|(_, v)| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    let before = scrape().await;
    let response = app.signup_with(&new_client(), "ada", GOOD_PASSWORD).await;
    expect_status(response, StatusCode::OK).await;
    assert_eq!(seen.lock().expect("lock").len(), 1);
    // Other tests' servers share the process's recorder: the count grew by at least this one.
    assert!(scrape().await >= before + 1.0);
}

backend_tests!(
    an_answer_that_is_not_a_range_list_is_counted,
    a_listed_password_is_refused,
    an_unlisted_password_is_accepted_and_padding_never_matches,
    a_slow_service_lets_the_password_through,
    the_check_covers_a_password_change,
);
