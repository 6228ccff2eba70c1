//! `GET /metrics`: absent without `GATEHOUSE_METRICS_TOKEN`, a 404 without the right
//! bearer token, and with it the Prometheus text format, whose counters move with what
//! the server does. The recorder is process-wide (other tests' servers add to it), so
//! the checks compare a scrape after the actions with one before them.

use crate::helpers::{expect_status, new_client, spawn_app, Backend, TestApp, GOOD_PASSWORD};
use reqwest::StatusCode;
use std::collections::BTreeMap;

const TOKEN: &str = "metrics-token-for-the-tests-0123";

/// One scrape: each series (name and sorted labels) with its value.
type Scrape = BTreeMap<String, f64>;

/// Parses the text format; panics on a line that is not a comment or `series value`.
fn parse(text: &str) -> Scrape {
    let mut series = Scrape::new();
    for line in text.lines().filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (name, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let key = match name.split_once('{') {
            None => name.to_owned(),
            Some((base, labels)) => {
                let labels = labels
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("bad labels in {line:?}"));
                let mut pairs: Vec<&str> = labels.split(',').filter(|p| !p.is_empty()).collect();
                pairs.sort_unstable();
                format!("{base}{{{}}}", pairs.join(","))
            }
        };
        series.insert(key, value);
    }
    series
}

/// Scrapes with the token; panics unless it answers 200 in the text format.
async fn scrape(app: &TestApp) -> Scrape {
    let response = new_client()
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = expect_status(response, StatusCode::OK).await;
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    assert!(!body.contains(TOKEN), "the token is never shown");
    parse(&body)
}

fn value(scrape: &Scrape, series: &str) -> f64 {
    scrape.get(series).copied().unwrap_or(0.0)
}

async fn app_with_metrics(backend: Backend) -> Option<TestApp> {
    crate::helpers::spawn_app_with(backend, &[("GATEHOUSE_METRICS_TOKEN", TOKEN)]).await
}

async fn without_a_token_configured_there_is_no_route(backend: Backend) {
    let Some(app) = spawn_app(backend).await else {
        return;
    };
    for auth in [None, Some(TOKEN)] {
        let mut request = new_client().get(app.url("/metrics"));
        if let Some(token) = auth {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GET /metrics");
        expect_status(response, StatusCode::NOT_FOUND).await;
    }
}

async fn a_missing_or_wrong_token_gets_a_404(backend: Backend) {
    let Some(app) = app_with_metrics(backend).await else {
        return;
    };
    let cases: [Option<String>; 5] = [
        None,
        Some(format!("Bearer {TOKEN}x")),
        Some(format!("Bearer {}", &TOKEN[..TOKEN.len() - 1])),
        Some(format!("Basic {TOKEN}")),
        Some(TOKEN.to_owned()),
    ];
    for header in cases {
        let mut request = new_client().get(app.url("/metrics"));
        if let Some(header) = &header {
            request = request.header("authorization", header);
        }
        let response = request.send().await.expect("GET /metrics");
        let body = expect_status(response, StatusCode::NOT_FOUND).await;
        assert!(!body.contains("gatehouse_"), "{header:?} saw metrics");
    }
    // A POST is not a scrape (refused by the cross-site check before routing).
    let response = new_client()
        .post(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("POST /metrics");
    let body = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(!body.contains("gatehouse_http"));
}

async fn counters_follow_requests_sign_ins_and_sessions(backend: Backend) {
    let Some(app) = app_with_metrics(backend).await else {
        return;
    };
    let before = scrape(&app).await;

    // A sign-up, a wrong password, a right one, a page, a sign-out.
    let client = app.signed_up_with_new_client("ada").await;
    let wrong = app
        .login_with(&new_client(), "ada", "not-the-password-at-all")
        .await;
    expect_status(wrong, StatusCode::UNAUTHORIZED).await;
    let browser = new_client();
    expect_status(
        app.login_with(&browser, "ada", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    expect_status(app.get_with(&browser, "/profile").await, StatusCode::OK).await;
    expect_status(app.get_with(&browser, "/profile").await, StatusCode::OK).await;
    expect_status(app.call_with(&client, "logout", &[]).await, StatusCode::OK).await;

    let after = scrape(&app).await;
    let grew = |series: &str, by: f64| {
        let delta = value(&after, series) - value(&before, series);
        assert!(delta >= by, "{series} grew by {delta}, expected at least {by}");
    };
    grew(r#"gatehouse_http_requests_total{class="page",status="200"}"#, 2.0);
    grew(
        r#"gatehouse_http_requests_total{class="server_fn",status="401"}"#,
        1.0,
    );
    grew(
        r#"gatehouse_http_request_duration_seconds_count{class="page"}"#,
        2.0,
    );
    grew(
        r#"gatehouse_sign_ins_total{method="signup",outcome="success"}"#,
        1.0,
    );
    grew(
        r#"gatehouse_sign_ins_total{method="password",outcome="success"}"#,
        1.0,
    );
    grew(
        r#"gatehouse_sign_ins_total{method="password",outcome="failure"}"#,
        1.0,
    );
    grew("gatehouse_sessions_created_total", 2.0);
    grew("gatehouse_sessions_ended_total", 1.0);
    grew(r#"gatehouse_audit_events_total{kind="login_failure"}"#, 1.0);
    grew("gatehouse_password_hash_wait_seconds_count", 3.0);
    // Read at scrape time: present, whatever their values.
    for series in [
        "gatehouse_page_cache_hits_total",
        "gatehouse_page_cache_misses_total",
        "gatehouse_mail_queue_length",
        "gatehouse_password_hash_queue",
    ] {
        assert!(after.contains_key(series), "{series} missing");
    }
    // The scrape itself is counted under its own class, never under a path.
    let third = scrape(&app).await;
    assert!(
        value(
            &third,
            r#"gatehouse_http_requests_total{class="metrics",status="200"}"#
        ) >= 1.0
    );
    assert!(
        third.keys().all(|series| !series.contains("/profile")),
        "paths are not labels"
    );
}

async fn the_mail_queue_length_is_read_from_the_database(backend: Backend) {
    let Some(app) = app_with_metrics(backend).await else {
        return;
    };
    // A message waiting is counted at the next scrape of this server, whatever other
    // servers in the process hold. It is leased until 2100, so the sender leaves it alone:
    // a waiting time alone is not enough, since a starting server makes every waiting
    // message due (`due_now`), and on a loaded machine that pass can come after the insert.
    app.execute(
        "INSERT INTO mail_queue (recipient, kind, sealed, next_attempt_at, locked_until, created_at) \
         VALUES ('x@example.com', 'notice', 'x', 4102444800, 4102444800, 0)",
    )
    .await;
    let scraped = scrape(&app).await;
    assert_eq!(value(&scraped, "gatehouse_mail_queue_length"), 1.0);
}

/// Each instance is scraped at its own address, as docs/operations.md says to: `/metrics` is
/// not sent to the public URL like a page (it was, with a 308, so no scrape worked).
async fn each_instance_is_scraped_at_its_own_address(backend: Backend) {
    let vars = [
        ("GATEHOUSE_METRICS_TOKEN", TOKEN),
        (crate::helpers::TEST_PUBLIC_HOST, "localhost"),
    ];
    let Some(app) = crate::helpers::spawn_app_with(backend, &vars).await else {
        return;
    };
    // Pages are still sent to the public URL.
    let response = new_client()
        .get(format!("http://{}/login", app.addr))
        .send()
        .await
        .expect("GET /login");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    let by_address = format!("http://{}/metrics", app.addr);
    let response = new_client()
        .get(&by_address)
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /metrics");
    let body = expect_status(response, StatusCode::OK).await;
    assert!(body.contains("gatehouse_http_requests_total"), "{body}");
    // Without the token it is still the 404 page, under any name.
    let response = new_client().get(&by_address).send().await.expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

backend_tests!(
    each_instance_is_scraped_at_its_own_address,
    without_a_token_configured_there_is_no_route,
    a_missing_or_wrong_token_gets_a_404,
    counters_follow_requests_sign_ins_and_sessions,
    the_mail_queue_length_is_read_from_the_database,
);
