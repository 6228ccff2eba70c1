//! Sign-in with GitHub and Google against a fake provider on loopback.

use crate::{
    fake_provider::FakeProvider,
    helpers::{
        expect_status, location, new_client, session_cookie_value, set_cookies, spawn_app_with, Backend,
        TestApp, GOOD_PASSWORD,
    },
};
use reqwest::{Client, Response, StatusCode};
use std::time::{Duration, Instant};

async fn app_with(backend: Backend, provider: &FakeProvider) -> TestApp {
    let vars = provider.vars();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_app_with(backend, &borrowed).await.expect("app")
}

/// Follows a flow from its start to the app's callback answer.
pub async fn run_flow(app: &TestApp, browser: &Client, start: Response) -> Response {
    assert_eq!(
        start.status(),
        StatusCode::SEE_OTHER,
        "the start redirects to the provider"
    );
    let authorize = location(&start);
    let consent = browser.get(&authorize).send().await.expect("authorize");
    assert_eq!(
        consent.status(),
        StatusCode::SEE_OTHER,
        "the provider sends the browser back"
    );
    let back = location(&consent);
    assert!(back.starts_with(&app.url("/auth/")), "{back}");
    browser.get(back).send().await.expect("callback")
}

pub async fn sign_in_with(app: &TestApp, browser: &Client, provider: &str, next: &str) -> Response {
    let start = browser
        .get(app.url(&format!("/auth/{provider}?next={next}")))
        .send()
        .await
        .expect("start");
    run_flow(app, browser, start).await
}

async fn failure_page(response: Response, provider: &str) {
    assert!(
        session_cookie_value(&response).is_none_or(|v| v.is_empty()),
        "no session after a failure"
    );
    let body = expect_status(response, StatusCode::BAD_REQUEST).await;
    assert!(
        body.contains(&format!("Sign-in with {provider} failed. Please try again.")),
        "{body}"
    );
}

async fn github_sign_in_creates_an_account_once_and_signs_in_again(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let browser = new_client();
    let start = browser
        .get(app.url("/auth/github?next=/members"))
        .send()
        .await
        .expect("start");
    let state_cookie = set_cookies(&start)
        .into_iter()
        .find(|c| c.starts_with("gatehouse_oauth="))
        .expect("flow cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/;"] {
        assert!(
            state_cookie.contains(attribute) || state_cookie.ends_with(attribute.trim_end_matches(';')),
            "{attribute}: {state_cookie}"
        );
    }
    let authorize = location(&start);
    assert!(
        authorize.starts_with(&format!("{}/authorize?", fake.base)),
        "{authorize}"
    );
    assert!(authorize.contains("code_challenge_method=S256"));
    let done = run_flow(&app, &browser, start).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/members");
    assert!(session_cookie_value(&done).is_some_and(|v| !v.is_empty()));
    let page = expect_status(
        browser.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("data-testid=\"profile-username\">octocat<"),
        "{page}"
    );
    assert!(
        page.contains("https://avatars.githubusercontent.com/u/583231?v=4"),
        "the avatar is shown"
    );
    assert_eq!(app.role_of("octocat").await, "user");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE password_hash IS NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM oauth_accounts WHERE provider = 'github' AND provider_user_id = '583231'"
        )
        .await,
        1
    );

    let again = sign_in_with(&app, &new_client(), "github", "/profile").await;
    assert_eq!(location(&again), "/profile");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users").await,
        1,
        "the returning user gets no second account"
    );
    let kinds = app.texts("SELECT kind FROM audit_events ORDER BY id").await;
    assert_eq!(kinds, ["signup", "login_success", "login_success"]);
}

async fn a_taken_username_gets_a_numbered_suffix(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    app.signed_up("octocat").await;
    app.user_with_role("octocat-2", "user").await;
    let done = sign_in_with(&app, &new_client(), "github", "/profile").await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'octocat-3'")
            .await,
        1
    );
}

async fn a_mismatched_or_missing_state_is_refused(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let browser = new_client();
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let consent = browser.get(location(&start)).send().await.expect("authorize");
    let back = location(&consent);
    let forged = back.replace("state=", "state=x");
    failure_page(browser.get(&forged).send().await.expect("callback"), "GitHub").await;
    // The state cookie is spent: even the genuine callback now fails.
    failure_page(browser.get(&back).send().await.expect("callback"), "GitHub").await;
    // Another browser (no state cookie at all).
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let consent = browser.get(location(&start)).send().await.expect("authorize");
    failure_page(
        new_client()
            .get(location(&consent))
            .send()
            .await
            .expect("callback"),
        "GitHub",
    )
    .await;
    failure_page(
        browser
            .get(app.url("/auth/github/callback"))
            .send()
            .await
            .expect("callback"),
        "GitHub",
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
}

async fn a_replayed_code_is_refused(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let browser = new_client();
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let consent = browser.get(location(&start)).send().await.expect("authorize");
    let first = location(&consent);
    assert_eq!(
        browser.get(&first).send().await.expect("callback").status(),
        StatusCode::SEE_OTHER
    );
    // A new flow's state with the old, spent code (another browser: this one is signed in).
    let browser = new_client();
    let start = browser.get(app.url("/auth/github")).send().await.expect("start");
    let state = url::Url::parse(&location(&start))
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .expect("state");
    let code = url::Url::parse(&first)
        .expect("url")
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("code");
    let replay = browser
        .get(app.url(&format!("/auth/github/callback?code={code}&state={state}")))
        .send()
        .await
        .expect("callback");
    failure_page(replay, "GitHub").await;
}

async fn provider_failures_give_the_400_page(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    fake.script(|s| s.token_status = 500);
    failure_page(sign_in_with(&app, &new_client(), "github", "/").await, "GitHub").await;
    fake.script(|s| {
        s.token_status = 200;
        s.user_status = 503;
    });
    failure_page(sign_in_with(&app, &new_client(), "github", "/").await, "GitHub").await;
    fake.script(|s| {
        s.user_status = 200;
        s.user_body_raw = Some("{\"id\": \"not a number\", ".to_owned());
    });
    failure_page(sign_in_with(&app, &new_client(), "github", "/").await, "GitHub").await;
    fake.script(|s| s.user_body_raw = Some("{\"login\": \"no-id\"}".to_owned()));
    failure_page(sign_in_with(&app, &new_client(), "github", "/").await, "GitHub").await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 0);
}

/// `error=access_denied` (the user said no at the provider) is no failure: the visitor
/// goes back to the page the flow started from, which says so and offers the other ways.
async fn cancelling_at_the_provider_goes_back_to_where_the_flow_started(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    fake.script(|s| s.deny = true);

    // Signing in: back to the sign-in page, `next` kept.
    let browser = new_client();
    let back = sign_in_with(&app, &browser, "github", "/members").await;
    assert_eq!(back.status(), StatusCode::SEE_OTHER);
    assert!(session_cookie_value(&back).is_none_or(|v| v.is_empty()));
    let to = location(&back);
    assert_eq!(to, "/login?cancelled=github&next=/members");
    let page = expect_status(
        browser.get(app.url(&to)).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("Sign-in with GitHub was cancelled. Choose another way, or try again."),
        "{page}"
    );
    assert!(page.contains("name=\"next\" value=\"/members\""), "{page}");

    // Linking: back to the account settings, which say nothing changed.
    app.signed_up("alice").await;
    let start = app
        .client
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let back = run_flow(&app, &app.client, start).await;
    let to = location(&back);
    assert_eq!(to, "/settings/account?error=cancelled&provider=github");
    let page = expect_status(app.get(&to).await, StatusCode::OK).await;
    assert!(
        page.contains("Connecting GitHub was cancelled. Nothing was changed."),
        "{page}"
    );
    // Confirming it's you: the confirmation page says so.
    let page = expect_status(
        app.get("/reauth?error=cancelled&provider=github&next=/settings/security")
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("Confirming with GitHub was cancelled. Choose a way to confirm it&#x27;s you.")
            || page.contains("Confirming with GitHub was cancelled. Choose a way to confirm it's you."),
        "{page}"
    );

    // A cancellation whose state is not the flow's own (or with no flow cookie at all)
    // learns nothing from the cookie: the plain sign-in page.
    let start = new_client();
    let first = start
        .get(app.url("/auth/github?next=/members"))
        .send()
        .await
        .expect("start");
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let forged = start
        .get(app.url("/auth/github/callback?error=access_denied&state=not-the-state"))
        .send()
        .await
        .expect("callback");
    assert_eq!(location(&forged), "/login?cancelled=github");
    let bare = new_client()
        .get(app.url("/auth/google/callback?error=access_denied"))
        .send()
        .await
        .expect("callback");
    assert_eq!(location(&bare), "/login?cancelled=google");
    // Nothing was made or linked, and other provider errors stay failures.
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
    let other = new_client()
        .get(app.url("/auth/github/callback?error=server_error"))
        .send()
        .await
        .expect("callback");
    failure_page(other, "GitHub").await;
}

async fn a_slow_provider_times_out_into_the_400_page(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    fake.script(|s| s.token_delay = Duration::from_secs(5));
    let started = Instant::now();
    failure_page(sign_in_with(&app, &new_client(), "github", "/").await, "GitHub").await;
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "gave up after the 1 s timeout: {:?}",
        started.elapsed()
    );
}

async fn google_sign_in_uses_the_verified_email_and_checks_the_nonce(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let start = new_client();
    let first = start.get(app.url("/auth/google")).send().await.expect("start");
    let authorize = location(&first);
    for param in ["nonce=", "code_challenge_method=S256", "scope=openid"] {
        assert!(authorize.contains(param), "{param} in {authorize}");
    }
    let done = run_flow(&app, &start, first).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        app.texts("SELECT email FROM users WHERE username = 'ada'").await,
        ["ada@example.com"]
    );
    // A provider's verified address starts out verified.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'ada' AND email_verified_at IS NOT NULL")
            .await,
        1
    );
    // Another Google account with the same address makes a new account without it: an
    // address never links or merges accounts.
    fake.script(|s| {
        s.google_user = serde_json::json!({"sub": "111", "name": "Ada Two", "email": "ADA@example.com", "email_verified": true});
    });
    assert_eq!(
        sign_in_with(&app, &new_client(), "google", "/").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 2);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username <> 'ada' AND email IS NULL")
            .await,
        1
    );
    // An unverified e-mail is not kept, and the name gives the username.
    fake.script(|s| {
        s.google_user = serde_json::json!({"sub": "222", "name": "Grace Hopper", "email": "grace@example.com", "email_verified": false});
    });
    assert_eq!(
        sign_in_with(&app, &new_client(), "google", "/").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'Grace-Hopper' AND email IS NULL")
            .await,
        1
    );
    // An ID token for another sign-in (wrong nonce) is refused.
    fake.script(|s| {
        s.google_user = serde_json::json!({"sub": "333", "name": "Mallory"});
        s.id_token_nonce = Some("someone-elses-nonce".to_owned());
    });
    failure_page(sign_in_with(&app, &new_client(), "google", "/").await, "Google").await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 3);
}

async fn a_signed_in_user_links_a_provider_and_then_signs_in_with_it(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    app.signed_up("alice").await;
    let start = app
        .client
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let done = run_flow(&app, &app.client, start).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/settings/account?done=linked&provider=github");
    let page = expect_status(app.get("/settings/account?done=linked").await, StatusCode::OK).await;
    assert!(
        page.contains("connected as") && page.contains("octocat"),
        "{page}"
    );
    let alice = app.user_id("alice").await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM oauth_accounts WHERE user_id = {alice}"
        ))
        .await,
        1
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'oauth_linked'")
            .await,
        1
    );
    let elsewhere = new_client();
    assert_eq!(
        sign_in_with(&app, &elsewhere, "github", "/profile")
            .await
            .status(),
        StatusCode::SEE_OTHER
    );
    let page = expect_status(
        elsewhere.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("data-testid=\"profile-username\">alice<"),
        "signed in as alice: {page}"
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
}

async fn an_account_linked_to_someone_else_is_refused(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let first = new_client();
    sign_in_with(&app, &first, "github", "/").await;
    app.signed_up("bob").await;
    let start = app
        .client
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let done = run_flow(&app, &app.client, start).await;
    assert_eq!(
        location(&done),
        "/settings/account?error=linked-elsewhere&provider=github"
    );
    let page = expect_status(app.get(&location(&done)).await, StatusCode::OK).await;
    assert!(
        page.contains("That GitHub account is already linked to another user."),
        "{page}"
    );
    let bob = app.user_id("bob").await;
    assert_eq!(
        app.scalar(&format!(
            "SELECT COUNT(*) FROM oauth_accounts WHERE user_id = {bob}"
        ))
        .await,
        0
    );
}

async fn the_last_way_to_sign_in_cannot_be_unlinked(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    sign_in_with(&app, &app.client, "github", "/").await;
    let refused = app.call("unlink_provider", &[("provider", "github")]).await;
    let body = expect_status(refused, StatusCode::CONFLICT).await;
    assert!(
        body.contains("GitHub is your only way to sign in. Set a password first."),
        "{body}"
    );
    expect_status(
        app.call("change_password", &[("new_password", GOOD_PASSWORD)])
            .await,
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.call("unlink_provider", &[("provider", "github")]).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM oauth_accounts").await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'oauth_unlinked'")
            .await,
        1
    );
    expect_status(
        app.call("unlink_provider", &[("provider", "github")]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_status(
        app.call("unlink_provider", &[("provider", "myspace")]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

/// An account without a password and with two providers: disconnecting both at once
/// leaves exactly one, every time (the user row is locked while deciding).
async fn two_concurrent_unlinks_never_remove_the_last_way_in(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    sign_in_with(&app, &app.client, "github", "/").await;
    let id = app.scalar("SELECT id FROM users").await;
    for round in 0..10 {
        app.execute(&format!(
            "INSERT INTO oauth_accounts (provider, provider_user_id, user_id, display, created_at) \
             VALUES ('google', 'g-{round}', {id}, 'ada@example.com', 0)"
        ))
        .await;
        let (a, b) = tokio::join!(
            app.call("unlink_provider", &[("provider", "github")]),
            app.call("unlink_provider", &[("provider", "google")]),
        );
        let mut statuses = [a.status().as_u16(), b.status().as_u16()];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "round {round}");
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM oauth_accounts").await,
            1,
            "round {round}: one way in is left"
        );
        // Put back whichever went, as GitHub (the next round removes google again).
        app.execute("DELETE FROM oauth_accounts").await;
        app.execute(&format!(
            "INSERT INTO oauth_accounts (provider, provider_user_id, user_id, display, created_at) \
             VALUES ('github', '583231', {id}, 'octocat', 0)"
        ))
        .await;
    }
}

async fn linking_needs_a_signed_in_user_and_a_same_origin_form(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let anonymous = new_client()
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("POST");
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert!(location(&anonymous).starts_with("/login"));
    app.signed_up("alice").await;
    let cross = app
        .client
        .post(app.url("/auth/github/link"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("POST");
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    assert!(
        app.get("/auth/github/link").await.status().is_client_error(),
        "no GET"
    );
}

async fn next_after_a_provider_sign_in_stays_on_this_site(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let done = sign_in_with(&app, &new_client(), "github", "%2F%2Fevil.example").await;
    assert_eq!(location(&done), "/profile");
}

async fn the_sign_in_pages_offer_exactly_the_configured_providers(backend: Backend) {
    let fake = FakeProvider::start().await;
    let app = app_with(backend, &fake).await;
    let page = expect_status(app.get("/login?next=/members").await, StatusCode::OK).await;
    assert!(page.contains("href=\"/auth/github?next=/members\""), "{page}");
    assert!(page.contains("Sign in with Google"));
    let plain = spawn_app_with(backend, &[]).await.expect("app");
    let page = expect_status(plain.get("/login").await, StatusCode::OK).await;
    assert!(!page.contains("Sign in with GitHub") && !page.contains("/auth/google"));
    assert_eq!(plain.get("/auth/github").await.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        plain.get("/auth/google/callback?code=x&state=y").await.status(),
        StatusCode::NOT_FOUND
    );
}

backend_tests!(
    github_sign_in_creates_an_account_once_and_signs_in_again,
    a_taken_username_gets_a_numbered_suffix,
    a_mismatched_or_missing_state_is_refused,
    a_replayed_code_is_refused,
    provider_failures_give_the_400_page,
    cancelling_at_the_provider_goes_back_to_where_the_flow_started,
    a_slow_provider_times_out_into_the_400_page,
    google_sign_in_uses_the_verified_email_and_checks_the_nonce,
    a_signed_in_user_links_a_provider_and_then_signs_in_with_it,
    an_account_linked_to_someone_else_is_refused,
    the_last_way_to_sign_in_cannot_be_unlinked,
    linking_needs_a_signed_in_user_and_a_same_origin_form,
    two_concurrent_unlinks_never_remove_the_last_way_in,
    next_after_a_provider_sign_in_stays_on_this_site,
    the_sign_in_pages_offer_exactly_the_configured_providers,
);
