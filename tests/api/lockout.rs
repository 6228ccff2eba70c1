//! The per-username lock-out against an attacker: concurrent guesses are counted before
//! any hashing, a device that signed in before keeps its own counter, and a lock can be
//! lifted (admin page, command line).

use crate::helpers::{expect_status, new_client, TestApp, GOOD_PASSWORD};
use reqwest::{redirect::Policy, Client, StatusCode};

/// Statuses of `n` sign-ins for `username` with `password`, all sent at once from fresh
/// browsers.
async fn burst(app: &TestApp, username: &str, password: &str, n: usize) -> Vec<u16> {
    let attempts = (0..n).map(|_| async {
        app.login_with(&new_client(), username, password)
            .await
            .status()
            .as_u16()
    });
    futures::future::join_all(attempts).await
}

/// With a limit of 3, four times as many concurrent guesses get at most 3 password
/// checks; every other one is refused before hashing. Unknown names alike.
async fn concurrent_guesses_get_no_more_than_the_limit(app: TestApp) {
    app.signed_up("alice").await;
    for name in ["alice", "ghost"] {
        let statuses = burst(&app, name, "wrong-password-1", 12).await;
        let checked = statuses.iter().filter(|s| **s == 401).count();
        let refused = statuses.iter().filter(|s| **s == 429).count();
        assert!(
            checked <= 3,
            "{name}: {checked} guesses were checked: {statuses:?}"
        );
        assert_eq!(checked + refused, 12, "{name}: {statuses:?}");
    }
    let failures = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'login_failure'")
        .await;
    assert!(failures <= 6, "{failures} failures were evaluated for two names");
    // Both names are locked from the attempt that reached the limit on (the first lock is
    // one second long: stretch it so a slow machine cannot let it expire before the
    // check below).
    let locked = app
        .scalar("SELECT COUNT(*) FROM login_throttle WHERE failures = 3 AND locked_until_ms >= updated_at_ms + 1000")
        .await;
    assert_eq!(locked, 2, "the burst locked both names");
    app.hold_locks().await;
    // The right password does not get through a lock either.
    assert_eq!(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// A browser that has signed in as alice keeps a sealed device record; an attacker's
/// failures lock alice's shared counter but never that browser. The device counts its
/// own failures, and its record helps nobody else.
async fn a_device_that_signed_in_before_keeps_its_own_counter(app: TestApp) {
    app.signed_up("alice").await;
    let laptop = new_client();
    assert_eq!(
        app.login_with(&laptop, "alice", GOOD_PASSWORD).await.status(),
        StatusCode::OK
    );
    let attacker = new_client();
    for _ in 0..3 {
        assert_eq!(
            app.login_with(&attacker, "alice", "guess-1234").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    app.hold_locks().await;
    for _ in 0..2 {
        assert_eq!(
            app.login_with(&attacker, "alice", GOOD_PASSWORD).await.status(),
            StatusCode::TOO_MANY_REQUESTS,
            "the shared counter is locked"
        );
    }
    assert_eq!(
        app.login_with(&laptop, "alice", GOOD_PASSWORD).await.status(),
        StatusCode::OK,
        "alice's own device is not locked out"
    );
    // Another user's device record does not count for alice.
    app.signed_up_with_new_client("bob").await;
    let bobs = new_client();
    assert_eq!(
        app.login_with(&bobs, "bob", GOOD_PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.login_with(&bobs, "alice", GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // A forged record counts for nothing.
    let forged = Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client");
    let response = forged
        .post(app.url("/api/login"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .header(
            "cookie",
            "gatehouse_device=AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        )
        .form(&[("username", "alice"), ("password", GOOD_PASSWORD), ("next", "")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    // The device's own counter locks after its own failures.
    for _ in 0..3 {
        assert_eq!(
            app.login_with(&laptop, "alice", "typo-typo-typo").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    app.hold_locks().await;
    assert_eq!(
        app.login_with(&laptop, "alice", GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// Locks the username `name` by failing three times from fresh browsers.
async fn lock(app: &TestApp, name: &str) {
    for _ in 0..3 {
        app.login_with(&new_client(), name, "guess-1234").await;
    }
    app.hold_locks().await;
    assert_eq!(
        app.login_with(&new_client(), name, GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
}

async fn an_admin_unlocks_a_locked_username(app: TestApp) {
    let admin = app.user_with_role("ada", "admin").await;
    let member = app.user_with_role("max", "user").await;
    app.signed_up_with_new_client("alice").await;
    let alice = app.user_id("alice").await.to_string();
    lock(&app, "alice").await;
    let page = expect_status(
        admin.get(app.url("/admin?q=alice")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("data-testid=\"user-locked\""),
        "the lock is shown: {page}"
    );

    let signed_out = app
        .call_with(&new_client(), "unlock_user", &[("user_id", &alice)])
        .await;
    assert_eq!(signed_out.status(), StatusCode::UNAUTHORIZED);
    let too_low = app
        .call_with(&member, "unlock_user", &[("user_id", &alice)])
        .await;
    assert_eq!(too_low.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD)
            .await
            .status(),
        StatusCode::TOO_MANY_REQUESTS,
        "still locked"
    );
    let done = app.call_with(&admin, "unlock_user", &[("user_id", &alice)]).await;
    let body = expect_status(done, StatusCode::OK).await;
    assert!(body.contains("alice can sign in again."), "{body}");
    assert_eq!(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    let ada = app.user_id("ada").await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'unlocked' AND actor_id = {ada} AND user_id = {alice}"
        ))
        .await,
        1
    );
    let missing = app
        .call_with(&admin, "unlock_user", &[("user_id", "999999")])
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

mod with_limit_three {
    use super::*;
    db_tests!(with [("GATEHOUSE_LOGIN_MAX_FAILURES", "3")];
        concurrent_guesses_get_no_more_than_the_limit,
        a_device_that_signed_in_before_keeps_its_own_counter,
        an_admin_unlocks_a_locked_username,
    );
}
