//! Hardening: cross-site refusal, form hygiene, throttling, limits.

use crate::helpers::{
    expect_status, location, new_client, session_cookie_value, start_on, text, TestApp, GOOD_PASSWORD,
};
use reqwest::{header, Client, StatusCode};
use std::time::Duration;

const ENDPOINTS: [&str; 5] = ["signup", "login", "logout", "current_user", "auth_settings"];

fn assert_security_headers(response: &reqwest::Response) {
    let h = response.headers();
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin");
    assert!(h["content-security-policy"]
        .to_str()
        .unwrap_or("")
        .contains("frame-ancestors 'none'"));
}

async fn post(
    app: &TestApp,
    endpoint: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> reqwest::Response {
    let mut request = new_client()
        .post(app.url(&format!("/api/{endpoint}")))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.expect("POST")
}

async fn every_server_function_refuses_a_foreign_origin(app: TestApp) {
    app.signed_up("alice").await;
    for endpoint in ENDPOINTS {
        for accept in ["application/json", "text/html"] {
            let response = post(
                &app,
                endpoint,
                &[("origin", "https://evil.example"), ("accept", accept)],
                "username=alice&password=correct-horse-battery-staple-42&next=",
            )
            .await;
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{endpoint} ({accept})");
            assert_security_headers(&response);
            assert!(session_cookie_value(&response).is_none());
            let body = text(response).await;
            assert!(body.contains("Cross-site request refused"), "{endpoint}: {body}");
        }
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions").await,
        1,
        "nothing signed in or out"
    );
}

async fn fetch_metadata_from_another_site_is_refused(app: TestApp) {
    for site in ["cross-site", "same-site", "none"] {
        let response = post(
            &app,
            "login",
            &[("sec-fetch-site", site), ("origin", &app.origin.clone())],
            "username=a&password=b&next=",
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{site}");
    }
    let ok = post(
        &app,
        "login",
        &[("sec-fetch-site", "same-origin"), ("accept", "application/json")],
        "username=nobody&password=whatever-it-is&next=",
    )
    .await;
    assert_eq!(
        ok.status(),
        StatusCode::UNAUTHORIZED,
        "same-origin passes on to the function"
    );
}

async fn a_form_post_with_neither_origin_nor_referer_is_refused(app: TestApp) {
    let response = post(
        &app,
        "login",
        &[("accept", "text/html")],
        "username=a&password=b&next=",
    )
    .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let foreign = post(
        &app,
        "login",
        &[("referer", "https://evil.example/login")],
        "username=a&password=b&next=",
    )
    .await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let referer = format!("{}/login", app.origin);
    let same = new_client()
        .post(app.url("/api/login"))
        .header("referer", referer)
        .header("accept", "text/html")
        .form(&[
            ("username", "nobody"),
            ("password", "whatever-it-is"),
            ("next", ""),
        ])
        .send()
        .await
        .expect("POST");
    assert_eq!(
        same.status(),
        StatusCode::FOUND,
        "a same-origin Referer is enough for an old browser"
    );
}

async fn a_json_post_from_a_foreign_origin_is_refused(app: TestApp) {
    let response = new_client()
        .post(app.url("/api/current_user"))
        .header("origin", "https://evil.example")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let null_origin = post(&app, "logout", &[("origin", "null")], "").await;
    assert_eq!(null_origin.status(), StatusCode::FORBIDDEN);
}

async fn pages_stay_readable_with_any_origin(app: TestApp) {
    let response = new_client()
        .get(app.url("/"))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
}

async fn malformed_form_data_is_a_400_never_a_500(app: TestApp) {
    let origin = app.origin.clone();
    let cases: [&[u8]; 6] = [
        b"username=%zz&password=x",
        b"username=al%C3%28ice&password=x",
        b"username=ali\xffce&password=x",
        b"username=ali%00ce&password=x",
        b"username=alice&username=bob&password=x",
        b"username=alice&password=%",
    ];
    // Media types are case-insensitive: the check must not be skipped by capitals.
    let types = [
        "application/x-www-form-urlencoded",
        "Application/X-WWW-Form-URLEncoded; charset=UTF-8",
    ];
    for (body, content_type) in cases.into_iter().flat_map(|b| types.map(|t| (b, t))) {
        for accept in ["application/json", "text/html"] {
            let response = new_client()
                .post(app.url("/api/login"))
                .header("origin", &origin)
                .header("accept", accept)
                .header("content-type", content_type)
                .body(body.to_vec())
                .send()
                .await
                .expect("POST");
            assert_eq!(
                response.status(),
                StatusCode::BAD_REQUEST,
                "{} ({accept})",
                String::from_utf8_lossy(body)
            );
            assert_security_headers(&response);
        }
    }
    let missing = app.call("login", &[("password", "x")]).await;
    let body = expect_status(missing, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("incomplete or malformed"), "{body}");
    let not_a_form = new_client()
        .post(app.url("/api/login"))
        .header("origin", &origin)
        .header("content-type", "application/json")
        .body("{\"username\": 1}")
        .send()
        .await
        .expect("POST");
    assert_eq!(not_a_form.status(), StatusCode::BAD_REQUEST);
    expect_status(app.get("/healthz").await, StatusCode::OK).await;
}

async fn an_unknown_server_function_is_not_a_500(app: TestApp) {
    let response = app.call("no_such_function", &[]).await;
    assert!(response.status().is_client_error(), "{}", response.status());
}

/// Signs in with `password` and returns (status, body, Retry-After).
async fn attempt(app: &TestApp, username: &str, password: &str) -> (StatusCode, String, Option<u64>) {
    let response = app.login_with(&new_client(), username, password).await;
    let status = response.status();
    let retry = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, text(response).await, retry)
}

async fn repeated_failures_lock_a_username_with_a_doubling_back_off(app: TestApp) {
    app.signed_up("alice").await;
    for _ in 0..2 {
        assert_eq!(
            attempt(&app, "alice", "wrong-password-1").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // The third failure reaches the threshold: locked for 1 s.
    assert_eq!(
        attempt(&app, "alice", "wrong-password-1").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body, retry) = attempt(&app, "alice", GOOD_PASSWORD).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the right password does not open a lock: {body}"
    );
    assert!(
        body.contains("Too many attempts. Try again in 1 second."),
        "{body}"
    );
    assert_eq!(retry, Some(1));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // One more failure after the lock: 2 s.
    assert_eq!(
        attempt(&app, "alice", "wrong-password-2").await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, body, retry) = attempt(&app, "alice", GOOD_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(body.contains("Try again in 2 seconds."), "{body}");
    assert_eq!(retry, Some(2));
    tokio::time::sleep(Duration::from_millis(2100)).await;
    // Success resets the count.
    assert_eq!(attempt(&app, "alice", GOOD_PASSWORD).await.0, StatusCode::OK);
    for _ in 0..2 {
        assert_eq!(
            attempt(&app, "alice", "wrong-password-3").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        attempt(&app, "alice", GOOD_PASSWORD).await.0,
        StatusCode::OK,
        "two failures after a reset do not lock"
    );
    // Both refusals are recorded, counted in one row (same username, same window).
    let throttled = app
        .scalar("SELECT CAST(SUM(occurrences) AS BIGINT) FROM audit_events WHERE kind = 'throttled'")
        .await;
    assert_eq!(throttled, 2);
}

async fn unknown_usernames_are_locked_exactly_like_real_ones(app: TestApp) {
    app.signed_up("realname").await;
    let mut transcripts = Vec::new();
    for name in ["realname", "ghostname"] {
        let mut seen = Vec::new();
        for _ in 0..4 {
            let (status, body, retry) = attempt(&app, name, "wrong-password-x").await;
            let message =
                serde_json::from_str::<serde_json::Value>(&body).expect("json")["message"].to_string();
            seen.push((status, message, retry));
        }
        transcripts.push(seen);
    }
    assert_eq!(
        transcripts[0], transcripts[1],
        "a lock reveals nothing about the account"
    );
    assert_eq!(transcripts[0][3].0, StatusCode::TOO_MANY_REQUESTS);
}

async fn a_lock_survives_a_restart_and_holds_on_every_instance(app: TestApp) {
    app.signed_up("alice").await;
    let other = app
        .second_instance(&[("GATEHOUSE_LOGIN_MAX_FAILURES", "3")])
        .await;
    // Failures spread over two instances count together.
    assert_eq!(
        attempt(&app, "alice", "wrong-1").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&other, "alice", "wrong-2").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&app, "alice", "wrong-3").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        attempt(&other, "alice", GOOD_PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    drop(other);
    // Lengthen the lock so it outlives the restart.
    app.hold_locks().await;
    let database = app.stop().await;
    let restarted = start_on(
        database,
        &[("GATEHOUSE_LOGIN_MAX_FAILURES", "3")],
        axum::Router::new(),
    )
    .await;
    let (status, body, _) = attempt(&restarted, "alice", GOOD_PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}

async fn a_client_address_gets_a_limited_number_of_sign_in_attempts(app: TestApp) {
    app.signed_up("alice").await;
    for name in ["alice", "bob", "carol"] {
        assert_eq!(
            attempt(&app, name, "wrong-password").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let limited = app.login_with(&new_client(), "dave", "wrong-password").await;
    assert_security_headers(&limited);
    let (status, body, retry) = attempt(&app, "dave", "wrong-password").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let retry = retry.expect("Retry-After");
    assert!((1..=20).contains(&retry), "{retry}");
    let wait = if retry == 1 {
        "1 second".to_owned()
    } else {
        format!("{retry} seconds")
    };
    assert!(body.contains(&format!("Try again in {wait}.")), "{body}");
    // Without JavaScript the form shows the same message after the redirect.
    let browser = new_client();
    let response = app
        .post_form_with(
            &browser,
            "/api/login",
            &[("username", "alice"), ("password", GOOD_PASSWORD), ("next", "")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let page = expect_status(
        browser.get(location(&response)).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Too many attempts. Try again in"), "{page}");
    assert!(page.contains("value=\"alice\""), "{page}");
}

async fn ipv6_clients_share_a_limit_per_64_bit_prefix(app: TestApp) {
    let from = |ip: &'static str| {
        let app = &app;
        async move {
            let response = Client::new()
                .post(app.url("/api/login"))
                .header("origin", &app.origin)
                .header("accept", "application/json")
                .header("x-forwarded-for", ip)
                .form(&[
                    ("username", "nobody"),
                    ("password", "whatever-it-is"),
                    ("next", ""),
                ])
                .send()
                .await
                .expect("POST");
            response.status()
        }
    };
    assert_eq!(from("2001:db8:1:2::1").await, StatusCode::UNAUTHORIZED);
    assert_eq!(from("2001:db8:1:2::2").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        from("2001:db8:1:2:ffff::9").await,
        StatusCode::TOO_MANY_REQUESTS,
        "same /64"
    );
    assert_eq!(
        from("2001:db8:1:3::1").await,
        StatusCode::UNAUTHORIZED,
        "another /64"
    );
    assert_eq!(from("198.51.100.1, 203.0.113.5").await, StatusCode::UNAUTHORIZED);
    assert_eq!(from("198.51.100.1, 203.0.113.5").await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        from("10.9.9.9, 203.0.113.5").await,
        StatusCode::TOO_MANY_REQUESTS,
        "the proxy's entry counts, not the client's"
    );
}

async fn a_client_address_gets_a_limited_number_of_sign_ups(app: TestApp) {
    for name in ["one-user", "two-user"] {
        expect_status(
            app.signup_with(&new_client(), name, GOOD_PASSWORD).await,
            StatusCode::OK,
        )
        .await;
    }
    let response = app.signup_with(&new_client(), "three-user", GOOD_PASSWORD).await;
    let retry = response.headers().get(header::RETRY_AFTER).cloned();
    let body = expect_status(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(body.contains("Too many attempts"), "{body}");
    assert!(retry.is_some());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 2);
}

async fn stale_throttling_rows_are_purged(app: TestApp) {
    // Read before the attempt: both rows are stamped at or after this instant, so a purge
    // as of it must keep them however slowly the machine runs (the test rate's interval is
    // a few milliseconds, so a clock read after the attempt could already be past it).
    let now_ms = crate::helpers::now() * 1000;
    attempt(&app, "ghost", "x-wrong-password").await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM login_throttle").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM rate_limits").await, 1);
    let purge = |at_ms| gatehouse::server::auth::throttle::purge(&app.db, at_ms);
    assert_eq!(purge(now_ms).await.expect("purge"), 0, "still needed then");
    // Three days on, neither row matters any more.
    assert_eq!(purge(now_ms + 3 * 86_400_000).await.expect("purge"), 2);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM login_throttle").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM rate_limits").await, 0);
}

db_tests!(
    every_server_function_refuses_a_foreign_origin,
    fetch_metadata_from_another_site_is_refused,
    a_form_post_with_neither_origin_nor_referer_is_refused,
    a_json_post_from_a_foreign_origin_is_refused,
    pages_stay_readable_with_any_origin,
    malformed_form_data_is_a_400_never_a_500,
    an_unknown_server_function_is_not_a_500,
    stale_throttling_rows_are_purged,
);

mod lockout {
    use super::*;
    db_tests!(with [("GATEHOUSE_LOGIN_MAX_FAILURES", "3")];
        repeated_failures_lock_a_username_with_a_doubling_back_off,
        unknown_usernames_are_locked_exactly_like_real_ones,
        a_lock_survives_a_restart_and_holds_on_every_instance,
    );
}

/// A flood of refused sign-ins writes nothing to the limiter and one counted row to the
/// audit trail (per address and ten-minute window), not a row per request.
async fn a_flood_of_refused_requests_is_counted_not_written_row_by_row(app: TestApp) {
    app.signed_up("alice").await;
    for _ in 0..3 {
        attempt(&app, "alice", "wrong-password-1").await;
    }
    app.hold_locks().await;
    let tat_before = app.scalar("SELECT MAX(tat_ms) FROM rate_limits").await;
    let rows_before = app.scalar("SELECT COUNT(*) FROM audit_events").await;
    let refused =
        futures::future::join_all((0..40).map(|_| attempt(&app, "alice", "wrong-password-1"))).await;
    assert!(refused
        .iter()
        .all(|(status, _, _)| *status == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(
        app.scalar("SELECT MAX(tat_ms) FROM rate_limits").await,
        tat_before,
        "refusals leave the limiter as it was"
    );
    let new_rows = app.scalar("SELECT COUNT(*) FROM audit_events").await - rows_before;
    assert!(
        new_rows <= 2,
        "{new_rows} rows for 40 refusals (two only across a window's edge)"
    );
    assert_eq!(
        app.scalar("SELECT CAST(SUM(occurrences) AS BIGINT) FROM audit_events WHERE kind = 'throttled'")
            .await,
        40
    );
}

/// Audit events older than GATEHOUSE_AUDIT_RETENTION are pruned by the hourly task.
async fn audit_events_past_their_retention_are_pruned(app: TestApp) {
    app.signed_up("alice").await;
    app.execute(&format!(
        "INSERT INTO audit_events (at, kind, detail) VALUES ({}, 'logout', 'ancient'), ({}, 'logout', 'recent')",
        crate::helpers::now() - 400 * 86_400,
        crate::helpers::now() - 300 * 86_400
    ))
    .await;
    let pruned =
        gatehouse::server::audit::prune(&app.db, app.state.config.audit_retention, crate::helpers::now())
            .await
            .expect("prune");
    assert_eq!(pruned, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE detail = 'ancient'")
            .await,
        0
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE detail = 'recent'")
            .await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'signup'")
            .await,
        1
    );
}

mod per_client {
    use super::*;
    db_tests!(with [("GATEHOUSE_RATE_SIGNIN", "3/1m")];
        a_client_address_gets_a_limited_number_of_sign_in_attempts,
        a_flood_of_refused_requests_is_counted_not_written_row_by_row,
    );
}

mod retention {
    use super::*;
    db_tests!(with [("GATEHOUSE_AUDIT_RETENTION", "365d")]; audit_events_past_their_retention_are_pruned);
}

mod per_network {
    use super::*;
    db_tests!(with [("GATEHOUSE_RATE_SIGNIN", "2/1m"), ("GATEHOUSE_TRUST_PROXY", "true")];
        ipv6_clients_share_a_limit_per_64_bit_prefix);
}

mod sign_up_limit {
    use super::*;
    db_tests!(with [("GATEHOUSE_RATE_SIGNUP", "2/1h")]; a_client_address_gets_a_limited_number_of_sign_ups);
}
