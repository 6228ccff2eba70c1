//! Recent authentication ("sudo mode"): a session alone — a stolen one, say — cannot add
//! or remove a way into the account once its sign-in is older than the window; the
//! holder confirms on `/reauth` (password, or a provider round-trip) and comes back.

use crate::{
    fake_provider::FakeProvider,
    helpers::{expect_status, location, new_client, spawn_app_with, Backend, TestApp, GOOD_PASSWORD},
};
use reqwest::{Client, StatusCode};

/// A plain form post from `page` (no JavaScript), as a browser sends it.
async fn form_from(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    page: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(app.url(endpoint))
        .header("accept", "text/html")
        .header("origin", &app.origin)
        .header("referer", app.url(page))
        .form(fields)
        .send()
        .await
        .expect("POST")
}

async fn an_old_session_cannot_change_how_the_account_signs_in(backend: Backend) {
    let fake = FakeProvider::start().await;
    let vars = fake.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(backend, &vars).await.expect("app");
    app.signed_up("alice").await;
    // A provider account, linked while the sign-in was fresh.
    let start = app
        .client
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let consent = app.client.get(location(&start)).send().await.expect("authorize");
    app.client.get(location(&consent)).send().await.expect("callback");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 1);

    app.age_sessions(11 * 60).await;
    // JavaScript callers get the answer that leads to /reauth.
    let response = app.call("unlink_provider", &[("provider", "github")]).await;
    let body = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(body.contains("\"kind\":\"reauth_required\""), "{body}");
    // An account without a password can neither be given one nor be deleted from an
    // old session.
    app.execute("UPDATE users SET password_hash = NULL").await;
    for (endpoint, fields) in [
        (
            "change_password",
            vec![("new_password", "a-brand-new-passphrase-9")],
        ),
        ("delete_account", vec![]),
    ] {
        let response = app.call(endpoint, &fields).await;
        let body = expect_status(response, StatusCode::FORBIDDEN).await;
        assert!(
            body.contains("\"kind\":\"reauth_required\""),
            "{endpoint}: {body}"
        );
    }
    // Plain form posts are sent to /reauth, which will return to the form's page.
    let response = form_from(
        &app,
        &app.client,
        "/api/change_password",
        "/settings/account",
        &[("new_password", "a-brand-new-passphrase-9")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/reauth?next=/settings/account");
    // Connecting another provider starts no flow.
    let response = app
        .client
        .post(app.url("/auth/google/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/reauth?next=/settings/account");
    // Nothing changed.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE password_hash IS NULL")
            .await,
        1
    );
}

async fn a_password_confirms_it_is_you_and_returns_where_you_were(backend: Backend) {
    let app = spawn_app_with(backend, &[]).await.expect("app");
    app.signed_up("alice").await;
    let page = expect_status(app.get("/reauth?next=/settings/account").await, StatusCode::OK).await;
    assert!(
        page.contains("Confirm it's you") && page.contains("name=\"password\""),
        "{page}"
    );
    assert_eq!(
        new_client()
            .get(app.url("/reauth"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::SEE_OTHER
    );

    app.age_sessions(11 * 60).await;
    let stale = app.call("account", &[]).await;
    assert!(text_of(stale).await.contains("\"recently_authenticated\":false"));
    let wrong = app
        .call(
            "reauthenticate",
            &[("password", "not-the-password"), ("next", "/settings/account")],
        )
        .await;
    expect_status(wrong, StatusCode::FORBIDDEN).await;
    let right = app
        .call(
            "reauthenticate",
            &[("password", GOOD_PASSWORD), ("next", "/settings/account")],
        )
        .await;
    assert_eq!(
        expect_status(right, StatusCode::OK).await,
        "\"/settings/account\""
    );
    let fresh = app.call("account", &[]).await;
    assert!(text_of(fresh).await.contains("\"recently_authenticated\":true"));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'reauthenticated'")
            .await,
        1
    );
    // Another session of the same user, signed in now …
    let other = app.signed_in_token("alice").await;
    // Without JavaScript the form redirects back; a foreign `next` goes to the profile.
    app.age_sessions(11 * 60).await;
    let response = form_from(
        &app,
        &app.client,
        "/api/reauthenticate",
        "/reauth",
        &[("password", GOOD_PASSWORD), ("next", "https://evil.example/")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/profile");
    // … is not confirmed by this one's confirmation.
    let response = Client::new()
        .post(app.url("/api/unlink_provider"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .header("cookie", format!("gatehouse_session={other}"))
        .form(&[("provider", "github")])
        .send()
        .await
        .expect("POST");
    let body = expect_status(response, StatusCode::FORBIDDEN).await;
    assert!(body.contains("reauth_required"), "{body}");
}

async fn text_of(response: reqwest::Response) -> String {
    response.text().await.expect("body")
}

/// An account without a password confirms with a provider linked to it — and only with
/// one linked to it.
async fn a_provider_round_trip_confirms_an_account_without_a_password(backend: Backend) {
    let fake = FakeProvider::start().await;
    let vars = fake.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(backend, &vars).await.expect("app");
    let start = app.get("/auth/github").await;
    let consent = app.client.get(location(&start)).send().await.expect("authorize");
    app.client.get(location(&consent)).send().await.expect("callback");
    app.age_sessions(11 * 60).await;
    let page = expect_status(app.get("/reauth?next=/settings/account").await, StatusCode::OK).await;
    assert!(
        page.contains("Continue with GitHub") && !page.contains("name=\"password\""),
        "{page}"
    );

    // Another GitHub account than the linked one confirms nothing.
    fake.script(|s| s.github_user = serde_json::json!({"id": 7, "login": "someone-else"}));
    let refused = round_trip(&app, "/settings/account").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let body = expect_status(
        app.call("change_password", &[("new_password", "a-brand-new-passphrase-9")])
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(body.contains("reauth_required"), "{body}");

    fake.script(|s| *s = Default::default());
    let confirmed = round_trip(&app, "/settings/account").await;
    assert_eq!(confirmed.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&confirmed), "/settings/account");
    expect_status(
        app.call("change_password", &[("new_password", "a-brand-new-passphrase-9")])
            .await,
        StatusCode::OK,
    )
    .await;
}

/// POST /auth/github/reauth from the /reauth page, through the provider, to the callback.
async fn round_trip(app: &TestApp, next: &str) -> reqwest::Response {
    let start = app
        .client
        .post(app.url("/auth/github/reauth"))
        .header("origin", &app.origin)
        .form(&[("next", next)])
        .send()
        .await
        .expect("start");
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let consent = app.client.get(location(&start)).send().await.expect("authorize");
    app.client.get(location(&consent)).send().await.expect("callback")
}

backend_tests!(
    an_old_session_cannot_change_how_the_account_signs_in,
    a_password_confirms_it_is_you_and_returns_where_you_were,
    a_provider_round_trip_confirms_an_account_without_a_password,
);
