//! Sign-up, sign-in and sign-out over HTTP, as a browser with and without JavaScript.

use crate::helpers::{
    expect_status, location, new_client, session_cookie_value, text, TestApp, GOOD_PASSWORD,
};
use reqwest::StatusCode;
use std::time::{Duration, Instant};

async fn signing_up_without_javascript_redirects_to_the_profile_signed_in(app: TestApp) {
    let response = app
        .post_form(
            "/api/signup",
            &[("username", "Alice"), ("password", GOOD_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/profile");
    assert!(
        session_cookie_value(&response).is_some_and(|v| !v.is_empty()),
        "session cookie set"
    );
    let profile = expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert!(
        profile.contains("data-testid=\"profile-username\">Alice<"),
        "{profile}"
    );
    assert!(
        profile.contains("data-testid=\"nav-signed-in\""),
        "the navigation shows the signed-in state"
    );
    assert!(profile.contains("data-testid=\"profile-role\">user<"));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'Alice' AND username_key = 'alice'")
            .await,
        1
    );
}

async fn signing_up_with_javascript_answers_the_next_page_and_sets_the_cookie(app: TestApp) {
    let response = app.signup_with(&app.client, "bob", GOOD_PASSWORD).await;
    assert!(session_cookie_value(&response).is_some_and(|v| !v.is_empty()));
    let body = expect_status(response, StatusCode::OK).await;
    assert_eq!(body, "\"/profile\"");
    let me = expect_status(app.call("current_user", &[]).await, StatusCode::OK).await;
    let user: serde_json::Value = serde_json::from_str(&me).expect("json");
    assert_eq!(user["username"], "bob");
    assert_eq!(user["role"], "user");
    assert!(!me.contains("password"), "no hash or secret in the user: {me}");
}

async fn a_username_is_taken_whatever_its_case_or_width(app: TestApp) {
    app.signed_up("alice").await;
    for name in ["alice", "ALICE", "\u{FF21}lice"] {
        let response = app.signup_with(&new_client(), name, GOOD_PASSWORD).await;
        let body = expect_status(response, StatusCode::CONFLICT).await;
        assert!(body.contains("That username is taken"), "{name}: {body}");
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
}

async fn a_refused_sign_up_without_javascript_comes_back_to_the_form_with_the_message_and_the_name(
    app: TestApp,
) {
    app.signed_up("carol").await;
    let browser = new_client();
    let response = app
        .post_form_with(
            &browser,
            "/api/signup",
            &[("username", "Carol"), ("password", GOOD_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let back = location(&response);
    assert!(back.starts_with(&app.url("/signup?")), "{back}");
    assert!(
        session_cookie_value(&response).is_none(),
        "no session for a refused sign-up"
    );
    let page = expect_status(browser.get(&back).send().await.expect("GET"), StatusCode::OK).await;
    assert!(page.contains("That username is taken"), "{page}");
    assert!(
        page.contains("value=\"Carol\""),
        "the typed username is kept: {page}"
    );
}

async fn thirty_concurrent_identical_sign_ups_create_exactly_one_account(app: TestApp) {
    let attempts = (0..30).map(|_| {
        let app = &app;
        async move {
            let response = app.signup_with(&new_client(), "dave", GOOD_PASSWORD).await;
            let status = response.status();
            (status, text(response).await)
        }
    });
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let taken = results
        .iter()
        .filter(|(s, body)| *s == StatusCode::CONFLICT && body.contains("That username is taken"))
        .count();
    assert_eq!((created, taken), (1, 29), "{results:?}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
}

async fn bad_usernames_and_weak_passwords_are_refused_with_the_reason(app: TestApp) {
    let long = "x".repeat(10_000);
    let cases: &[(&str, &str, &str)] = &[
        ("ab", GOOD_PASSWORD, "3 to 32 characters"),
        ("al ice", GOOD_PASSWORD, "letters a–z"),
        ("_alice", GOOD_PASSWORD, "start with a letter or a digit"),
        ("\u{200F}alice", GOOD_PASSWORD, "letters a–z"),
        ("", GOOD_PASSWORD, "Choose a username"),
        ("erin", "short", "at least 8 characters"),
        ("erin", "password", "too easy to guess"),
        ("erin", "12345678", "too easy to guess"),
        ("erin-the-great", "erin-the-great", "can't be your username"),
        ("erin", &long, "at most 256 characters"),
    ];
    for (username, password, reason) in cases {
        let response = app.signup_with(&new_client(), username, password).await;
        let body = expect_status(response, StatusCode::BAD_REQUEST).await;
        assert!(body.contains(reason), "{username:?}/{}: {body}", password.len());
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
}

async fn a_stricter_minimum_password_length_is_enforced(app: TestApp) {
    let response = app.signup_with(&app.client, "frank", "tangerine-violin").await;
    let body = expect_status(response, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("at least 20 characters"), "{body}");
}

async fn signing_in_opens_a_new_session_and_goes_to_next(app: TestApp) {
    app.signed_up("grace").await;
    let browser = new_client();
    let response = app
        .post_form_with(
            &browser,
            "/api/login",
            &[
                ("username", "GRACE"),
                ("password", GOOD_PASSWORD),
                ("next", "/members"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/members");
    assert!(session_cookie_value(&response).is_some_and(|v| !v.is_empty()));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions").await,
        2,
        "sign-up's and sign-in's"
    );
    let members = expect_status(
        browser.get(app.url("/members")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(members.contains("Members' area"));

    let js = app
        .call_with(
            &new_client(),
            "login",
            &[
                ("username", "grace"),
                ("password", GOOD_PASSWORD),
                ("next", "/members"),
            ],
        )
        .await;
    assert_eq!(expect_status(js, StatusCode::OK).await, "\"/members\"");
}

async fn an_unknown_user_and_a_wrong_password_fail_the_same_way(app: TestApp) {
    app.signed_up("heidi").await;
    let mut answers = Vec::new();
    for (username, password) in [
        ("heidi", "wrong-password-entirely"),
        ("nobody-here", GOOD_PASSWORD),
        ("x", GOOD_PASSWORD),
        ("heidi", ""),
    ] {
        let response = app.login_with(&new_client(), username, password).await;
        assert!(
            session_cookie_value(&response).is_none(),
            "{username}: no session"
        );
        let status = response.status();
        answers.push((status, text(response).await));
    }
    for (status, body) in &answers {
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert!(body.contains("Incorrect username or password"), "{body}");
    }
    let messages: Vec<String> = answers
        .iter()
        .map(|(_, body)| {
            serde_json::from_str::<serde_json::Value>(body).expect("json")["message"].to_string()
        })
        .collect();
    assert!(
        messages.windows(2).all(|w| w[0] == w[1]),
        "one message for every failure: {messages:?}"
    );
}

async fn a_wrong_password_without_javascript_shows_the_message_and_keeps_the_name(app: TestApp) {
    app.signed_up("ivan").await;
    let browser = new_client();
    let response = app
        .post_form_with(
            &browser,
            "/api/login",
            &[
                ("username", "ivan"),
                ("password", "not-the-password"),
                ("next", ""),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let page = expect_status(
        browser.get(location(&response)).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Incorrect username or password"), "{page}");
    assert!(page.contains("value=\"ivan\""), "{page}");
    assert!(
        page.contains("aria-live=\"assertive\""),
        "an aria-live error region"
    );
}

async fn an_over_long_password_is_refused_before_any_hashing(app: TestApp) {
    app.signed_up("ken").await;
    let long = "y".repeat(60_000);
    let started = Instant::now();
    let response = app.login_with(&new_client(), "ken", &long).await;
    let elapsed = started.elapsed();
    let body = expect_status(response, StatusCode::UNAUTHORIZED).await;
    assert!(body.contains("Incorrect username or password"));
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
}

async fn signing_out_deletes_the_session_so_the_old_cookie_stops_working(app: TestApp) {
    let signup = app.signup_with(&app.client, "laura", GOOD_PASSWORD).await;
    let token = session_cookie_value(&signup).expect("session cookie");
    expect_status(signup, StatusCode::OK).await;
    expect_status(app.get("/profile").await, StatusCode::OK).await;

    let response = app.post_form("/api/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/");
    let blank = crate::helpers::session_cookie_line(&response).expect("the cookie is cleared");
    assert!(blank.starts_with("gatehouse_session=;"), "{blank}");
    assert!(blank.contains("Max-Age=0"), "{blank}");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);

    // Replaying the old cookie, as someone who copied it would, gets nowhere.
    let replay = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url("/profile"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(replay.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&replay), "/login?next=/profile");
}

async fn sign_out_and_sign_in_are_not_reachable_by_get(app: TestApp) {
    for endpoint in ["/api/logout", "/api/login", "/api/signup"] {
        let response = app.get(endpoint).await;
        assert!(
            matches!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED | StatusCode::NOT_FOUND
            ),
            "{endpoint}: {}",
            response.status()
        );
    }
}

async fn sign_ups_sign_ins_failures_and_sign_outs_are_audited(app: TestApp) {
    app.signed_up("mallory").await;
    app.login_with(&app.client, "mallory", "wrong-password-x").await;
    app.login_with(&app.client, "someone-unknown", "hunter2hunter2")
        .await;
    expect_status(
        app.login_with(&app.client, "mallory", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    app.post_form("/api/logout", &[]).await;
    let kinds = app.texts("SELECT kind FROM audit_events ORDER BY id").await;
    assert_eq!(
        kinds,
        [
            "signup",
            "login_failure",
            "login_failure",
            "login_success",
            "logout"
        ]
    );
    let named = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE username = 'mallory' AND user_id IS NOT NULL")
        .await;
    assert_eq!(named, 4, "every event about the account names it");
    let details = app
        .texts("SELECT COALESCE(username, '') || ' ' || COALESCE(detail, '') FROM audit_events")
        .await;
    assert!(
        !details.iter().any(|d| d.contains("someone-unknown")),
        "unknown names are not logged: {details:?}"
    );
    assert!(!details.iter().any(|d| d.contains("hunter2")), "{details:?}");
    let ips = app.texts("SELECT ip FROM audit_events").await;
    assert_eq!(ips.len(), 5);
    assert!(ips.iter().all(|ip| ip == "127.0.0.1"), "{ips:?}");
}

async fn a_hash_with_old_parameters_is_upgraded_at_the_next_sign_in(app: TestApp) {
    use argon2::{password_hash::SaltString, Algorithm, Argon2, Params, PasswordHasher, Version};
    app.signed_up("nina").await;
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("salt");
    let weak = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(4096, 1, 1, None).expect("params"),
    )
    .hash_password(GOOD_PASSWORD.as_bytes(), &salt)
    .expect("hash")
    .to_string();
    app.execute(&format!(
        "UPDATE users SET password_hash = '{weak}' WHERE username_key = 'nina'"
    ))
    .await;
    expect_status(
        app.login_with(&new_client(), "nina", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    let stored = app
        .texts("SELECT password_hash FROM users WHERE username_key = 'nina'")
        .await;
    assert!(
        stored[0].starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored:?}"
    );
    expect_status(
        app.login_with(&new_client(), "nina", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

async fn an_oauth_only_account_cannot_sign_in_with_a_password(app: TestApp) {
    app.signed_up("oscar").await;
    app.execute("UPDATE users SET password_hash = NULL WHERE username_key = 'oscar'")
        .await;
    for password in [GOOD_PASSWORD, ""] {
        let body = expect_status(
            app.login_with(&new_client(), "oscar", password).await,
            StatusCode::UNAUTHORIZED,
        )
        .await;
        assert!(body.contains("Incorrect username or password"));
    }
}

async fn new_sign_ups_get_the_configured_default_role(app: TestApp) {
    app.signed_up("peggy").await;
    let me = expect_status(app.call("current_user", &[]).await, StatusCode::OK).await;
    assert!(me.contains("\"role\":\"none\""), "{me}");
    let members = app.get("/members").await;
    let body = expect_status(members, StatusCode::FORBIDDEN).await;
    assert!(
        body.contains("You don't have permission to view this page."),
        "{body}"
    );
}

db_tests!(
    signing_up_without_javascript_redirects_to_the_profile_signed_in,
    signing_up_with_javascript_answers_the_next_page_and_sets_the_cookie,
    a_username_is_taken_whatever_its_case_or_width,
    a_refused_sign_up_without_javascript_comes_back_to_the_form_with_the_message_and_the_name,
    thirty_concurrent_identical_sign_ups_create_exactly_one_account,
    bad_usernames_and_weak_passwords_are_refused_with_the_reason,
    signing_in_opens_a_new_session_and_goes_to_next,
    an_unknown_user_and_a_wrong_password_fail_the_same_way,
    a_wrong_password_without_javascript_shows_the_message_and_keeps_the_name,
    an_over_long_password_is_refused_before_any_hashing,
    signing_out_deletes_the_session_so_the_old_cookie_stops_working,
    sign_out_and_sign_in_are_not_reachable_by_get,
    sign_ups_sign_ins_failures_and_sign_outs_are_audited,
    a_hash_with_old_parameters_is_upgraded_at_the_next_sign_in,
    an_oauth_only_account_cannot_sign_in_with_a_password,
);

mod strict_minimum {
    use super::*;
    db_tests!(with [("GATEHOUSE_PASSWORD_MIN_LENGTH", "20")]; a_stricter_minimum_password_length_is_enforced);
}

mod default_role_none {
    use super::*;
    db_tests!(with [("GATEHOUSE_DEFAULT_ROLE", "none")]; new_sign_ups_get_the_configured_default_role);
}
