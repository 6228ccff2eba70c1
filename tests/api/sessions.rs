//! Lucia-style sessions: cookies, storage, renewal, caps, expiry, fixation.

use crate::helpers::{
    expect_status, location, new_client, now, session_cookie_line, session_cookie_value, spawn_app_with,
    Backend, TestApp, GOOD_PASSWORD,
};
use reqwest::{redirect::Policy, Client, StatusCode};
use sha2::{Digest, Sha256};

/// A client that sends exactly the cookie given (no jar).
fn bare() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn get_with_token(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    bare()
        .get(app.url(path))
        .header("host", &app.state.config.public_host)
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET")
}

/// Signs `username` up and returns the raw session token from the cookie.
async fn token_for(app: &TestApp, username: &str) -> String {
    let response = app.signup_with(&new_client(), username, GOOD_PASSWORD).await;
    let token = session_cookie_value(&response).expect("cookie");
    expect_status(response, StatusCode::OK).await;
    token
}

async fn the_session_cookie_is_http_only_lax_host_wide_and_expires_with_the_session(app: TestApp) {
    let response = app.signup_with(&app.client, "alice", GOOD_PASSWORD).await;
    let line = session_cookie_line(&response).expect("Set-Cookie");
    let attributes: Vec<&str> = line.split(';').map(str::trim).collect();
    assert!(attributes.contains(&"HttpOnly"), "{line}");
    assert!(attributes.contains(&"SameSite=Lax"), "{line}");
    assert!(attributes.contains(&"Path=/"), "{line}");
    assert!(!attributes.contains(&"Secure"), "plain http: no Secure ({line})");
    assert!(!line.to_lowercase().contains("domain="), "{line}");
    let max_age: i64 = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .expect("Max-Age")
        .parse()
        .expect("number");
    assert!((30 * 86_400 - 60..=30 * 86_400).contains(&max_age), "{max_age}");
    assert!(attributes.iter().any(|a| a.starts_with("Expires=")), "{line}");
    let expires_at = app.scalar("SELECT expires_at FROM sessions").await;
    assert!(
        (expires_at - (now() + max_age)).abs() <= 2,
        "cookie and row expire together"
    );
}

async fn over_https_the_cookie_is_host_prefixed_and_secure_and_hsts_is_sent(app: TestApp) {
    let response = app.signup_with(&app.client, "alice", GOOD_PASSWORD).await;
    assert!(response.headers().get("strict-transport-security").is_some());
    let line = session_cookie_line(&response).expect("Set-Cookie");
    assert!(line.starts_with("__Host-gatehouse_session="), "{line}");
    let attributes: Vec<&str> = line.split(';').map(str::trim).collect();
    for required in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(attributes.contains(&required), "{required} in {line}");
    }
    let token = session_cookie_value(&response).expect("token");
    let me = bare()
        .get(app.url("/profile"))
        .header("host", "gatehouse.example")
        .header("cookie", format!("__Host-gatehouse_session={token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(me.status(), StatusCode::OK, "the prefixed cookie is the one read");
    let plain = get_with_token(&app, "/profile", &token).await;
    assert_eq!(
        plain.status(),
        StatusCode::SEE_OTHER,
        "the unprefixed name is ignored over https"
    );
}

async fn only_the_sha256_of_the_token_is_stored_and_the_token_appears_nowhere(app: TestApp) {
    let token = token_for(&app, "alice").await;
    assert!(token.len() >= 32, "at least 160 bits of base32: {token}");
    let expected = hex::encode(Sha256::digest(token.as_bytes()));
    let ids = app.texts("SELECT id FROM sessions").await;
    assert_eq!(ids, [expected]);
    let mut everything = Vec::new();
    for sql in [
        "SELECT id || handle || COALESCE(ip, '') || COALESCE(user_agent, '') FROM sessions",
        "SELECT username || COALESCE(password_hash, '') FROM users",
        "SELECT kind || COALESCE(detail, '') || COALESCE(user_agent, '') FROM audit_events",
    ] {
        everything.extend(app.texts(sql).await);
    }
    assert!(
        everything.iter().all(|v| !v.contains(&token)),
        "the raw token is stored nowhere"
    );
}

async fn sessions_record_the_client_address_and_a_truncated_user_agent(app: TestApp) {
    let long_agent = format!("Mozilla/5.0 {}", "x".repeat(1000));
    let client = Client::builder()
        .cookie_store(true)
        .user_agent(long_agent)
        .build()
        .expect("client");
    expect_status(
        app.signup_with(&client, "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    let ip = app.texts("SELECT ip FROM sessions").await;
    assert_eq!(ip, ["127.0.0.1"]);
    let agent = app.texts("SELECT user_agent FROM sessions").await;
    assert_eq!(agent[0].chars().count(), 256);
}

async fn a_session_close_to_expiry_is_renewed_and_its_cookie_re_set(app: TestApp) {
    let token = token_for(&app, "alice").await;
    // TTL 1h, renew within 30m: 40 minutes pass.
    app.travel(40 * 60);
    let response = get_with_token(&app, "/profile", &token).await;
    let line = session_cookie_line(&response).expect("the cookie is re-set on renewal");
    expect_status(response, StatusCode::OK).await;
    assert!(line.contains(&token), "same token, new expiry: {line}");
    let expires_at = app.scalar("SELECT expires_at FROM sessions").await;
    assert!(
        (expires_at - (app.now() + 3600)).abs() <= 2,
        "moved to now + TTL: {expires_at}"
    );
    // Not due again: no write, no cookie.
    let again = get_with_token(&app, "/profile", &token).await;
    assert!(session_cookie_line(&again).is_none());
}

/// The configured cap is the one applied (the rule itself, renewal up to the cap
/// included, is unit-tested at fixed moments in `src/server/auth/sessions.rs`).
async fn the_configured_absolute_cap_ends_the_session(app: TestApp) {
    let token = token_for(&app, "alice").await;
    // The tests' cap is 24h: signed in a second longer ago, with time left on the row.
    app.execute(&format!(
        "UPDATE sessions SET created_at = {}, expires_at = {}",
        now() - 24 * 3600 - 1,
        now() + 3600
    ))
    .await;
    let response = get_with_token(&app, "/profile", &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);
}

async fn an_expired_session_is_refused_deleted_and_its_cookie_cleared(app: TestApp) {
    let token = token_for(&app, "alice").await;
    // A second past the session's lifetime.
    app.travel(app.state.config.session.ttl.as_secs() + 1);
    let response = get_with_token(&app, "/profile", &token).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login?next=/profile");
    let line = session_cookie_line(&response).expect("cleared");
    assert!(line.contains("Max-Age=0"), "{line}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions").await,
        0,
        "deleted when seen"
    );
}

/// The wiring of the touch: once due, a request writes it. (When it is due, at most once
/// a minute, is `sessions::upkeep`'s rule, unit-tested at fixed moments.)
async fn last_seen_is_written_at_most_once_a_minute(app: TestApp) {
    let token = token_for(&app, "alice").await;
    let seen = app.scalar("SELECT last_seen_at FROM sessions").await;
    app.travel(120);
    get_with_token(&app, "/profile", &token).await;
    assert!(
        app.scalar("SELECT last_seen_at FROM sessions").await >= seen + 120,
        "written once due"
    );
}

async fn signing_in_never_reuses_the_session_the_request_came_with(app: TestApp) {
    app.signed_up("alice").await;
    // A session id planted by an attacker (well-formed, but not issued) …
    let planted = "a".repeat(40);
    let response = bare()
        .post(app.url("/api/login"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .header("cookie", format!("gatehouse_session={planted}"))
        .form(&[("username", "alice"), ("password", GOOD_PASSWORD), ("next", "")])
        .send()
        .await
        .expect("POST");
    let issued = session_cookie_value(&response).expect("a new cookie");
    // What fixation would give the attacker: a signed-in session under the planted
    // token. There is none; the issued token is the only one that works.
    assert_eq!(
        get_with_token(&app, "/profile", &planted).await.status(),
        StatusCode::SEE_OTHER,
        "the planted token signs nobody in"
    );
    let planted_id = gatehouse::server::auth::sessions::session_id(&planted);
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM sessions WHERE id = '{planted_id}'"
        ))
        .await,
        0
    );
    assert_eq!(
        get_with_token(&app, "/profile", &issued).await.status(),
        StatusCode::OK
    );
    // … and a real earlier session: signing in again replaces it.
    let first = token_for(&app, "bob").await;
    let again = bare()
        .post(app.url("/api/login"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .header("cookie", format!("gatehouse_session={first}"))
        .form(&[("username", "bob"), ("password", GOOD_PASSWORD), ("next", "")])
        .send()
        .await
        .expect("POST");
    let second = session_cookie_value(&again).expect("a new cookie");
    assert_ne!(second, first);
    assert_eq!(
        get_with_token(&app, "/profile", &first).await.status(),
        StatusCode::SEE_OTHER,
        "old one is gone"
    );
    assert_eq!(
        get_with_token(&app, "/profile", &second).await.status(),
        StatusCode::OK
    );
}

async fn a_malformed_cookie_is_ignored_and_cleared(app: TestApp) {
    for junk in ["x", "' OR '1'='1", &"A".repeat(40), &"a".repeat(4000)] {
        let response = get_with_token(&app, "/", junk).await;
        assert_eq!(response.status(), StatusCode::OK, "{junk}");
        let line = session_cookie_line(&response).expect("cleared");
        assert!(line.contains("Max-Age=0"), "{line}");
    }
}

async fn the_hourly_purge_removes_only_expired_sessions(app: TestApp) {
    token_for(&app, "alice").await;
    token_for(&app, "bob").await;
    app.execute(&format!("UPDATE sessions SET expires_at = {} WHERE user_id = (SELECT id FROM users WHERE username_key = 'alice')", now() - 10)).await;
    let purged = gatehouse::server::auth::sessions::purge_expired(&app.db, now())
        .await
        .expect("purge");
    assert_eq!(purged, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
}

async fn a_role_change_takes_effect_on_the_next_request(app: TestApp) {
    let token = token_for(&app, "alice").await;
    assert_eq!(
        get_with_token(&app, "/members", &token).await.status(),
        StatusCode::OK
    );
    app.execute("UPDATE users SET role = 'none' WHERE username_key = 'alice'")
        .await;
    assert_eq!(
        get_with_token(&app, "/members", &token).await.status(),
        StatusCode::FORBIDDEN
    );
}

db_tests!(
    the_session_cookie_is_http_only_lax_host_wide_and_expires_with_the_session,
    only_the_sha256_of_the_token_is_stored_and_the_token_appears_nowhere,
    sessions_record_the_client_address_and_a_truncated_user_agent,
    an_expired_session_is_refused_deleted_and_its_cookie_cleared,
    last_seen_is_written_at_most_once_a_minute,
    signing_in_never_reuses_the_session_the_request_came_with,
    a_malformed_cookie_is_ignored_and_cleared,
    the_hourly_purge_removes_only_expired_sessions,
    a_role_change_takes_effect_on_the_next_request,
);

mod https {
    use super::*;
    db_tests!(with [("GATEHOUSE_PUBLIC_URL", "https://gatehouse.example")];
        over_https_the_cookie_is_host_prefixed_and_secure_and_hsts_is_sent);
}

mod short_sessions {
    use super::*;
    db_tests!(with [
        ("GATEHOUSE_SESSION_TTL", "1h"),
        ("GATEHOUSE_SESSION_RENEW_WITHIN", "30m"),
        ("GATEHOUSE_SESSION_ABSOLUTE", "24h"),
    ];
        a_session_close_to_expiry_is_renewed_and_its_cookie_re_set,
        the_configured_absolute_cap_ends_the_session,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_a_deleted_user_go_with_it() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await.expect("app");
    let token = token_for(&app, "alice").await;
    app.execute("DELETE FROM users WHERE username_key = 'alice'")
        .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions").await,
        0,
        "ON DELETE CASCADE"
    );
    assert_eq!(
        get_with_token(&app, "/profile", &token).await.status(),
        StatusCode::SEE_OTHER
    );
}
