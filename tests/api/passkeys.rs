//! Passkeys over HTTP, on `localhost` (WebAuthn refuses an IP address), driven by the
//! software authenticator of `authenticator.rs`: registering and signing in, and what a
//! phisher, a cloned key, a replayed answer or a stolen session runs into.

use crate::{
    authenticator::Authenticator,
    fake_provider::FakeProvider,
    helpers::{
        expect_status, location, new_client, session_cookie_value, set_cookies, spawn_app_with, Backend,
        TestApp, GOOD_PASSWORD, TEST_PUBLIC_HOST,
    },
    oauth::sign_in_with,
    two_factor,
};
use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};

pub const ON_LOCALHOST: [(&str, &str); 1] = [(TEST_PUBLIC_HOST, "localhost")];

async fn app_on_localhost(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &ON_LOCALHOST).await
}

/// A JSON POST as the site's script sends it.
async fn post_json(app: &TestApp, client: &Client, path: &str, body: &Value) -> Response {
    client
        .post(app.url(path))
        .header(header::ORIGIN, &app.origin)
        .header(header::ACCEPT, "application/json")
        .json(body)
        .send()
        .await
        .expect("POST")
}

async fn json_of(response: Response, status: StatusCode) -> Value {
    serde_json::from_str(&expect_status(response, status).await).expect("JSON")
}

/// Adds a passkey named `name` to the account of `client` with `authenticator`.
pub async fn add_passkey(
    app: &TestApp,
    client: &Client,
    authenticator: &mut Authenticator,
    name: &str,
) -> Value {
    let options = json_of(
        post_json(
            app,
            client,
            "/auth/passkey/register/options",
            &json!({ "name": name }),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let credential = authenticator.create(&options);
    json_of(
        post_json(app, client, "/auth/passkey/register", &credential).await,
        StatusCode::CREATED,
    )
    .await
}

/// Asks for sign-in options on `client` (going to `next` afterwards).
async fn login_options(app: &TestApp, client: &Client, next: &str) -> Value {
    json_of(
        post_json(
            app,
            client,
            "/auth/passkey/login/options",
            &json!({ "next": next }),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

/// Signs in on `client` with credential `index` of `authenticator`.
pub async fn passkey_sign_in(
    app: &TestApp,
    client: &Client,
    authenticator: &mut Authenticator,
    index: usize,
) -> Response {
    let options = login_options(app, client, "").await;
    let assertion = authenticator.get(&options, index);
    post_json(app, client, "/auth/passkey/login", &assertion).await
}

async fn signed_in_as(app: &TestApp, client: &Client) -> Option<String> {
    let response = app.call_with(client, "current_user", &[]).await;
    let body: Value = serde_json::from_str(&expect_status(response, StatusCode::OK).await).expect("json");
    body["username"].as_str().map(str::to_owned)
}

async fn audit_count(app: &TestApp, kind: &str) -> i64 {
    app.scalar(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM audit_events WHERE kind = '{kind}'"
    ))
    .await
}

async fn register_then_sign_in_without_a_username(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    assert!(app.origin.starts_with("http://localhost:"), "{}", app.origin);
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    let added = add_passkey(&app, &alice, &mut key, "  Laptop  ").await;
    assert_eq!(added["name"], "Laptop");
    assert_eq!(added["backed_up"], true);
    assert_eq!(audit_count(&app, "passkey_added").await, 1);

    // The options asked for a discoverable credential with user verification.
    let options = json_of(
        post_json(&app, &alice, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let selection = &options["publicKey"]["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["requireResidentKey"], true);
    assert_eq!(selection["userVerification"], "required");
    assert_eq!(options["publicKey"]["rp"]["id"], "localhost");
    let excluded = options["publicKey"]["excludeCredentials"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        excluded.len(),
        1,
        "the passkey already added is excluded: {options}"
    );

    // A fresh browser signs in with no username, and lands where `next` said.
    let browser = new_client();
    let options = login_options(&app, &browser, "/members?tab=1").await;
    assert!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "discoverable: no credential list gives accounts away: {options}"
    );
    assert_eq!(options["publicKey"]["userVerification"], "required");
    let assertion = key.get(&options, 0);
    let response = post_json(&app, &browser, "/auth/passkey/login", &assertion).await;
    assert!(session_cookie_value(&response).is_some_and(|v| !v.is_empty()));
    let body = json_of(response, StatusCode::OK).await;
    assert_eq!(body["redirect"], "/members?tab=1");
    assert_eq!(signed_in_as(&app, &browser).await.as_deref(), Some("alice"));
    let method = app
        .texts("SELECT detail FROM audit_events WHERE kind = 'login_success'")
        .await;
    assert_eq!(method, ["passkey"], "the sign-in records its method");
    expect_status(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    let mut methods = app
        .texts("SELECT detail FROM audit_events WHERE kind = 'login_success'")
        .await;
    methods.sort();
    assert_eq!(methods, ["passkey", "password"]);
    assert!(
        app.scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys WHERE last_used_at IS NOT NULL AND sign_count = 2"
        )
        .await
            == 1,
        "last use and counter recorded"
    );

    // The settings list shows it, and it can be renamed.
    let overview = json_of(app.call_with(&browser, "security", &[]).await, StatusCode::OK).await;
    let listed = overview["passkeys"].as_array().expect("a list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["name"], "Laptop");
    assert!(listed[0]["last_used_at"].as_i64().is_some());
    let id = listed[0]["id"].as_i64().expect("id").to_string();
    expect_status(
        app.call_with(
            &browser,
            "rename_passkey",
            &[("id", &id), ("name", "Work laptop")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let overview = json_of(app.call_with(&browser, "security", &[]).await, StatusCode::OK).await;
    assert_eq!(overview["passkeys"][0]["name"], "Work laptop");
    // Not someone else's.
    let bob = app.signed_up_with_new_client("bob").await;
    expect_status(
        app.call_with(&bob, "rename_passkey", &[("id", &id), ("name", "mine")])
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_status(
        app.call_with(&bob, "remove_passkey", &[("id", &id)]).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let too_long = "x".repeat(65);
    expect_status(
        app.call_with(&browser, "rename_passkey", &[("id", &id), ("name", &too_long)])
            .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
}

async fn a_passkey_from_another_origin_is_refused(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut phished = Authenticator::for_site(&app.origin);
    phished.origin = "http://localhost.evil.example".to_owned();
    let options = json_of(
        post_json(&app, &alice, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    let credential = phished.create(&options);
    expect_status(
        post_json(&app, &alice, "/auth/passkey/register", &credential).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys").await,
        0
    );

    // A real passkey, used on a phishing page: the browser reports the page's origin.
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Phone").await;
    key.origin = "http://evil.example".to_owned();
    let browser = new_client();
    let response = passkey_sign_in(&app, &browser, &mut key, 0).await;
    assert!(session_cookie_value(&response).is_none_or(|v| v.is_empty()));
    let body = json_of(response, StatusCode::UNAUTHORIZED).await;
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    // Signed for another relying party: refused too.
    let mut other_rp = Authenticator::for_site(&app.origin);
    other_rp.credentials = std::mem::take(&mut key.credentials);
    other_rp.rp_id = "example.com".to_owned();
    expect_status(
        passkey_sign_in(&app, &browser, &mut other_rp, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(signed_in_as(&app, &browser).await, None);
}

async fn a_challenge_is_answered_once(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Phone").await;

    let browser = new_client();
    let (options, challenge_cookie) = login_options_and_cookie(&app, &browser).await;
    let assertion = key.get(&options, 0);
    expect_status(
        post_json(&app, &browser, "/auth/passkey/login", &assertion).await,
        StatusCode::OK,
    )
    .await;
    // The same answer again, from a browser that kept the old challenge cookie.
    let replayer = new_client();
    let response = replayer
        .post(app.url("/auth/passkey/login"))
        .header(header::ORIGIN, &app.origin)
        .header(header::COOKIE, &challenge_cookie)
        .json(&assertion)
        .send()
        .await
        .expect("POST");
    let body = json_of(response, StatusCode::UNAUTHORIZED).await;
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("expired")),
        "{body}"
    );
    // No challenge at all.
    expect_status(
        post_json(&app, &new_client(), "/auth/passkey/login", &assertion).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;

    // Twenty answers at once to one challenge: one session.
    let (options, cookie) = login_options_and_cookie(&app, &new_client()).await;
    let assertion = key.get(&options, 0);
    let before = app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM sessions").await;
    let answers = futures::future::join_all((0..20).map(|_| {
        let client = new_client();
        let cookie = cookie.clone();
        let assertion = assertion.clone();
        let url = app.url("/auth/passkey/login");
        let origin = app.origin.clone();
        async move {
            client
                .post(url)
                .header(header::ORIGIN, origin)
                .header(header::COOKIE, cookie)
                .json(&assertion)
                .send()
                .await
                .expect("POST")
                .status()
        }
    }))
    .await;
    let ok = answers.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(answers
        .iter()
        .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED));
    let after = app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM sessions").await;
    assert_eq!(after, before + 1);

    // An expired challenge is refused even on its first use.
    let late = new_client();
    let options = login_options(&app, &late, "").await;
    app.travel(gatehouse::server::auth::passkeys::CHALLENGE_SECONDS as u64 + 1);
    let assertion = key.get(&options, 0);
    expect_status(
        post_json(&app, &late, "/auth/passkey/login", &assertion).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

/// Asks for sign-in options on `client`; gives them and the challenge cookie the
/// browser now holds (as a `Cookie` header), for replaying by hand.
async fn login_options_and_cookie(app: &TestApp, client: &Client) -> (Value, String) {
    let response = post_json(app, client, "/auth/passkey/login/options", &json!({})).await;
    let line = set_cookies(&response)
        .into_iter()
        .find(|c| c.starts_with("gatehouse_passkey="))
        .expect("a challenge cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=300"] {
        assert!(line.contains(attribute), "{attribute} in {line}");
    }
    let cookie = line.split(';').next().unwrap_or_default().to_owned();
    (json_of(response, StatusCode::OK).await, cookie)
}

async fn a_counter_going_backwards_is_refused_and_audited(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Key").await;
    expect_status(
        passkey_sign_in(&app, &new_client(), &mut key, 0).await,
        StatusCode::OK,
    )
    .await;
    expect_status(
        passkey_sign_in(&app, &new_client(), &mut key, 0).await,
        StatusCode::OK,
    )
    .await;
    // A copy of the key, used somewhere else at counter 1.
    key.credentials[0].counter = 0;
    let browser = new_client();
    let body = json_of(
        passkey_sign_in(&app, &browser, &mut key, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(
        body["error"].as_str().is_some_and(|e| e.contains("counter")),
        "{body}"
    );
    assert_eq!(signed_in_as(&app, &browser).await, None);
    assert_eq!(audit_count(&app, "passkey_counter_error").await, 1);
    assert_eq!(
        app.scalar("SELECT CAST(sign_count AS BIGINT) FROM passkeys")
            .await,
        3,
        "the stored counter stays where the real key left it"
    );
}

async fn unknown_and_mismatched_credentials_get_401(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Key").await;

    // A credential this site never registered.
    let mut stranger = Authenticator::for_site(&app.origin);
    let bob = app.signed_up_with_new_client("bob").await;
    let options = json_of(
        post_json(&app, &bob, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    stranger.create(&options); // created, never sent
    let browser = new_client();
    let body = json_of(
        passkey_sign_in(&app, &browser, &mut stranger, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(body["error"], "This passkey is not registered here.");

    // Alice's credential id with bob's user handle: not taken for either account.
    let bob_handle = stranger.credentials[0].user_handle.clone();
    key.credentials[0].user_handle = bob_handle;
    expect_status(
        passkey_sign_in(&app, &browser, &mut key, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(signed_in_as(&app, &browser).await, None);

    // Bodies that are not credentials.
    login_options(&app, &browser, "").await;
    for body in [json!({}), json!({"id": 1}), json!("x")] {
        expect_status(
            post_json(&app, &browser, "/auth/passkey/login", &body).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
    }
    let response = new_client()
        .post(app.url("/auth/passkey/login/options"))
        .header(header::ORIGIN, &app.origin)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    expect_status(response, StatusCode::BAD_REQUEST).await;
}

async fn a_deleted_users_passkeys_do_not_sign_in(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Key").await;
    expect_status(
        app.call_with(&alice, "delete_account", &[("password", GOOD_PASSWORD)])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys").await,
        0
    );
    // The same name signs up again: the old passkey is not theirs.
    app.signed_up_with_new_client("alice").await;
    let browser = new_client();
    expect_status(
        passkey_sign_in(&app, &browser, &mut key, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert_eq!(signed_in_as(&app, &browser).await, None);
}

async fn adding_needs_a_recent_authentication(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    app.age_sessions(3600).await;
    let body = json_of(
        post_json(&app, &alice, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert!(
        body["reauth"].as_str().is_some_and(|r| r.starts_with("/reauth")),
        "{body}"
    );
    // Signed out: 401.
    expect_status(
        post_json(&app, &new_client(), "/auth/passkey/register/options", &json!({})).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    // Options taken while recent, answered once the window has passed: refused too.
    let bob = app.signed_up_with_new_client("bob").await;
    let options = json_of(
        post_json(&app, &bob, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    app.age_sessions(3600).await;
    let credential = Authenticator::for_site(&app.origin).create(&options);
    expect_status(
        post_json(&app, &bob, "/auth/passkey/register", &credential).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    // A cross-site page can't start one.
    let response = alice
        .post(app.url("/auth/passkey/register/options"))
        .header(header::ORIGIN, "http://evil.example")
        .json(&json!({}))
        .send()
        .await
        .expect("POST");
    expect_status(response, StatusCode::FORBIDDEN).await;
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys").await,
        0
    );
}

async fn a_passkey_sign_in_skips_the_code_prompt_and_is_recent(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    two_factor::enable(&app, &alice).await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Key").await;
    let browser = new_client();
    let response = passkey_sign_in(&app, &browser, &mut key, 0).await;
    assert!(session_cookie_value(&response).is_some_and(|v| !v.is_empty()));
    expect_status(response, StatusCode::OK).await;
    assert_eq!(signed_in_as(&app, &browser).await.as_deref(), Some("alice"));
    // A recent authentication: adding another passkey is allowed at once.
    add_passkey(&app, &browser, &mut key, "Second").await;
    // A user who did not verify (no PIN, no biometrics) is refused.
    key.user_verified = false;
    expect_status(
        passkey_sign_in(&app, &new_client(), &mut key, 0).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
}

async fn the_last_way_to_sign_in_cannot_be_removed(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    let first = add_passkey(&app, &alice, &mut key, "One").await;
    let second = add_passkey(&app, &alice, &mut key, "Two").await;
    // An account whose only credentials are passkeys (no password, no provider).
    app.execute("UPDATE users SET password_hash = NULL").await;
    let browser = new_client();
    expect_status(passkey_sign_in(&app, &browser, &mut key, 1).await, StatusCode::OK).await;
    assert_eq!(signed_in_as(&app, &browser).await.as_deref(), Some("alice"));
    let first_id = first["id"].as_i64().expect("id").to_string();
    let second_id = second["id"].as_i64().expect("id").to_string();
    expect_status(
        app.call_with(&browser, "remove_passkey", &[("id", &first_id)])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit_count(&app, "passkey_removed").await, 1);
    let body = expect_status(
        app.call_with(&browser, "remove_passkey", &[("id", &second_id)])
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(body.contains("only way to sign in"), "{body}");
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys").await,
        1
    );
    // Removing needs a recent authentication as well.
    app.age_sessions(3600).await;
    expect_status(
        app.call_with(&browser, "remove_passkey", &[("id", &second_id)])
            .await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

async fn a_provider_can_go_when_a_passkey_stays(backend: Backend) {
    let fake = FakeProvider::start().await;
    let mut vars = fake.vars();
    vars.push((TEST_PUBLIC_HOST, "localhost".to_owned()));
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(app) = spawn_app_with(backend, &borrowed).await else {
        return;
    };
    // A GitHub-only account: no password.
    sign_in_with(&app, &app.client, "github", "/").await;
    assert!(signed_in_as(&app, &app.client).await.is_some());
    let mut key = Authenticator::for_site(&app.origin);
    let added = add_passkey(&app, &app.client, &mut key, "Phone").await;
    expect_status(
        app.call("unlink_provider", &[("provider", "github")]).await,
        StatusCode::OK,
    )
    .await;
    // Now the passkey is the only way in: it stays, and still signs in.
    let id = added["id"].as_i64().expect("id").to_string();
    let body = expect_status(
        app.call("remove_passkey", &[("id", &id)]).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(body.contains("only way to sign in"), "{body}");
    let browser = new_client();
    expect_status(passkey_sign_in(&app, &browser, &mut key, 0).await, StatusCode::OK).await;
    assert!(signed_in_as(&app, &browser).await.is_some());
}

async fn ten_concurrent_removals_leave_a_way_in(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        ids.push(
            add_passkey(&app, &alice, &mut key, name).await["id"]
                .as_i64()
                .expect("id"),
        );
    }
    app.execute("UPDATE users SET password_hash = NULL").await;
    let calls = futures::future::join_all(ids.iter().cycle().take(10).map(|id| {
        let id = id.to_string();
        let app = &app;
        let alice = &alice;
        async move {
            app.call_with(alice, "remove_passkey", &[("id", &id)])
                .await
                .status()
        }
    }))
    .await;
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM passkeys").await,
        1,
        "{calls:?}"
    );
    assert!(calls
        .iter()
        .all(|s| [StatusCode::OK, StatusCode::CONFLICT, StatusCode::NOT_FOUND].contains(s)));
}

/// Every view of `/login` asks for a challenge (passkey autofill), so asking does not
/// spend the client's sign-in allowance: the assertion does. Challenges have a larger
/// allowance of their own (ten per sign-in the client is allowed), and a refused request
/// stores nothing.
async fn the_assertion_counts_towards_the_sign_in_rate_not_the_challenge(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[(TEST_PUBLIC_HOST, "localhost"), ("GATEHOUSE_RATE_SIGNIN", "2/1m")],
    )
    .await
    else {
        return;
    };
    let browser = new_client();
    for _ in 0..12 {
        login_options(&app, &browser, "").await;
    }
    // Twelve views of the sign-in page later, the password still signs in …
    app.signed_up("carol").await;
    let response = app.login_with(&new_client(), "carol", GOOD_PASSWORD).await;
    expect_status(response, StatusCode::OK).await;
    // … and a passkey assertion is the second attempt of the two allowed.
    let mut stranger = Authenticator::for_site(&app.origin);
    let options = json_of(
        post_json(&app, &app.client, "/auth/passkey/register/options", &json!({})).await,
        StatusCode::OK,
    )
    .await;
    stranger.create(&options);
    let answer = passkey_sign_in(&app, &browser, &mut stranger, 0).await;
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let refused = passkey_sign_in(&app, &browser, &mut stranger, 0).await;
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body = json_of(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
}

async fn challenges_have_an_allowance_of_their_own(backend: Backend) {
    let Some(app) = spawn_app_with(
        backend,
        &[(TEST_PUBLIC_HOST, "localhost"), ("GATEHOUSE_RATE_SIGNIN", "1/1m")],
    )
    .await
    else {
        return;
    };
    let browser = new_client();
    for _ in 0..10 {
        login_options(&app, &browser, "").await;
    }
    let refused = post_json(&app, &browser, "/auth/passkey/login/options", &json!({})).await;
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    let body = json_of(refused, StatusCode::TOO_MANY_REQUESTS).await;
    assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    assert_eq!(
        app.scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM ceremonies WHERE kind = 'passkey_sign_in'")
            .await,
        10,
        "a refused request stores nothing"
    );
}

async fn an_ip_address_site_has_no_passkeys(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    assert!(app.origin.starts_with("http://127.0.0.1:"));
    let settings = json_of(app.call("auth_settings", &[]).await, StatusCode::OK).await;
    assert_eq!(settings["passkeys"], false);
    for path in [
        "/auth/passkey/login/options",
        "/auth/passkey/login",
        "/auth/passkey/register/options",
        "/auth/passkey/register",
    ] {
        let body = json_of(
            post_json(&app, &new_client(), path, &json!({})).await,
            StatusCode::NOT_FOUND,
        )
        .await;
        assert_eq!(
            body["error"], "Passkeys are not available on this site.",
            "{path}"
        );
    }
    // The password still works.
    app.signed_up("carol").await;
    let response = app.login_with(&new_client(), "carol", GOOD_PASSWORD).await;
    expect_status(response, StatusCode::OK).await;
}

async fn other_host_names_are_sent_to_the_public_url(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    let by_address = format!("http://{}", app.addr);
    let client = new_client();
    let response = client
        .get(format!("{by_address}/login?next=%2Fmembers"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&response), app.url("/login?next=%2Fmembers"));
    for path in ["/healthz", "/readyz"] {
        let response = client
            .get(format!("{by_address}{path}"))
            .send()
            .await
            .expect("GET");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // Under the public name, no redirect.
    let response = client.get(app.url("/login")).send().await.expect("GET");
    assert_eq!(response.status(), StatusCode::OK);
    // A POST under another name is not redirected: the cross-site check answers it.
    let response = client
        .post(format!("{by_address}/api/login"))
        .header(header::ORIGIN, &by_address)
        .form(&[("username", "x"), ("password", "y")])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Adding a passkey tells the account's verified address.
async fn adding_a_passkey_sends_a_notice(backend: Backend) {
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let url = sink.url();
    let mut vars = ON_LOCALHOST.to_vec();
    vars.push(("GATEHOUSE_SMTP_URL", url.as_str()));
    let Some(app) = spawn_app_with(backend, &vars).await else {
        return;
    };
    let alice = app.signed_up_with_new_client("alice").await;
    app.execute(&format!(
        "UPDATE users SET email = 'alice@example.com', email_key = 'alice@example.com', email_verified_at = {}",
        crate::helpers::now()
    ))
    .await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Work laptop").await;
    let notice = sink
        .wait_for_message("alice@example.com", "A passkey was added to your account")
        .await;
    assert!(notice.text().contains("\"Work laptop\""), "{}", notice.text());
    assert!(notice.text().contains("/settings/security"), "{}", notice.text());
}

/// A failure inside a plain handler (not a server function) names the request's own id,
/// the one in its `x-request-id` header and its log lines, not "unknown".
async fn an_internal_error_names_the_request_id(backend: Backend) {
    let Some(app) = app_on_localhost(backend).await else {
        return;
    };
    app.execute("DROP TABLE ceremonies").await;
    let response = post_json(&app, &new_client(), "/auth/passkey/login/options", &json!({})).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("a request id")
        .to_owned();
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error"],
        format!("Something went wrong on our side. Request id: {id}")
    );
}

backend_tests!(
    an_internal_error_names_the_request_id,
    adding_a_passkey_sends_a_notice,
    register_then_sign_in_without_a_username,
    a_passkey_from_another_origin_is_refused,
    a_challenge_is_answered_once,
    a_counter_going_backwards_is_refused_and_audited,
    unknown_and_mismatched_credentials_get_401,
    a_deleted_users_passkeys_do_not_sign_in,
    adding_needs_a_recent_authentication,
    a_passkey_sign_in_skips_the_code_prompt_and_is_recent,
    the_last_way_to_sign_in_cannot_be_removed,
    ten_concurrent_removals_leave_a_way_in,
    a_provider_can_go_when_a_passkey_stays,
    the_assertion_counts_towards_the_sign_in_rate_not_the_challenge,
    challenges_have_an_allowance_of_their_own,
    an_ip_address_site_has_no_passkeys,
    other_host_names_are_sent_to_the_public_url,
);
