//! Two-factor sign-in over HTTP: setting it up, signing in with a code or a recovery
//! code, and what an attacker with the password (or a stolen session) runs into.

use crate::{
    fake_provider::FakeProvider,
    helpers::{
        answer, expect_status, location, new_client, now, session_cookie_value, set_cookies, spawn_app_with,
        Backend, TestApp, GOOD_PASSWORD,
    },
};
use gatehouse::{
    api::{
        auth::VerifySecondFactor,
        security::{BeginTwoFactor, ConfirmTwoFactor, LoadSecurity, NewRecoveryCodes},
    },
    model::{SecurityOverview, TwoFactorState},
    server::auth::totp::{TotpSecret, STEP_SECONDS},
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// Turns two-factor sign-in on for the user of `client` (signed in just now); gives the
/// secret, the recovery codes shown, and the step of the code that confirmed it.
pub async fn enable(app: &TestApp, client: &Client) -> (TotpSecret, Vec<String>, u64) {
    answer::<String>(app.send(client, &BeginTwoFactor {}).await)
        .await
        .expect("a key is made");
    let overview = answer::<SecurityOverview>(app.send(client, &LoadSecurity {}).await)
        .await
        .expect("the security overview");
    let TwoFactorState::SettingUp(setup) = overview.two_factor else {
        panic!("not setting up: {:?}", overview.two_factor);
    };
    let secret = TotpSecret::from_base32(&setup.key).expect("base32 key");
    let uri = &setup.uri;
    assert!(uri.starts_with("otpauth://totp/Gatehouse:"), "{uri}");
    assert!(
        uri.contains(&format!("secret={}", setup.key.replace(' ', ""))),
        "{uri}"
    );
    assert!(uri.contains("&issuer=Gatehouse"), "{uri}");
    assert!(setup.qr_svg.starts_with("<svg"), "{setup:?}");
    let step = now() as u64 / STEP_SECONDS;
    let code = secret.code_at_step(step);
    answer::<String>(app.send(client, &ConfirmTwoFactor { code }).await)
        .await
        .expect("the first code turns it on");
    let codes = answer::<Option<Vec<String>>>(app.send(client, &NewRecoveryCodes {}).await)
        .await
        .expect("an answer")
        .expect("codes shown once, right after");
    (secret, codes, step)
}

/// Signs in with the password on a fresh browser; gives the browser, which now holds a
/// pending sign-in.
async fn password_step(app: &TestApp, username: &str) -> Client {
    let browser = new_client();
    let response = app.login_with(&browser, username, GOOD_PASSWORD).await;
    assert!(
        session_cookie_value(&response).is_none(),
        "no session before the second factor"
    );
    assert!(
        set_cookies(&response)
            .iter()
            .any(|c| c.starts_with("gatehouse_pending=")),
        "a pending sign-in bound to this browser"
    );
    assert_eq!(
        expect_status(response, StatusCode::OK).await,
        "\"/login/two-factor\""
    );
    browser
}

async fn verify(app: &TestApp, browser: &Client, code: &str) -> reqwest::Response {
    let args = VerifySecondFactor {
        code: code.to_owned(),
    };
    app.send(browser, &args).await
}

async fn setting_it_up_shows_the_key_and_needs_a_first_code(app: TestApp) {
    app.signed_up("alice").await;
    expect_status(app.call("begin_two_factor", &[]).await, StatusCode::OK).await;
    let wrong = app.call("confirm_two_factor", &[("code", "000000")]).await;
    let body = expect_status(wrong, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("Incorrect code"), "{body}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM totp_factors WHERE confirmed_at IS NOT NULL")
            .await,
        0
    );
    let (secret, codes, _) = enable(&app, &app.client).await;
    assert_eq!(codes.len(), 10);
    assert!(
        codes.iter().all(|c| c.len() == 11 && c.as_bytes()[5] == b'-'),
        "{codes:?}"
    );
    let again = expect_status(app.call("new_recovery_codes", &[]).await, StatusCode::OK).await;
    assert_eq!(again, "null", "shown once");
    let overview = expect_status(app.call("security", &[]).await, StatusCode::OK).await;
    assert!(
        overview.contains("\"On\"") && overview.contains("\"recovery_codes_left\":10"),
        "{overview}"
    );
    // Secrets at rest: the key sealed, the codes hashed, neither in the audit trail.
    let stored = app
        .texts("SELECT secret_sealed FROM totp_factors")
        .await
        .join(" ");
    assert!(
        !stored.contains(&secret.base32()),
        "the key is not stored in plain text"
    );
    let hashes = app.texts("SELECT code_hash FROM recovery_codes").await.join(" ");
    let trail = app
        .texts("SELECT COALESCE(detail, '') FROM audit_events")
        .await
        .join(" ");
    for code in &codes {
        let compact = code.replace('-', "");
        assert!(!hashes.contains(&compact) && !trail.contains(&compact), "{code}");
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'mfa_enabled'")
            .await,
        1
    );
    // Turning it on again is refused while it is on.
    let twice = app.call("begin_two_factor", &[]).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
}

/// Without JavaScript: the form posts, the browser lands on the page, which shows the
/// recovery codes once.
async fn the_recovery_codes_show_on_the_page_after_the_form_posts(app: TestApp) {
    app.signed_up("alice").await;
    expect_status(app.call("begin_two_factor", &[]).await, StatusCode::OK).await;
    let overview: Value =
        serde_json::from_str(&expect_status(app.call("security", &[]).await, StatusCode::OK).await)
            .expect("json");
    let secret = TotpSecret::from_base32(overview["two_factor"]["SettingUp"]["key"].as_str().expect("key"))
        .expect("key");
    let code = secret.code_at_step(now() as u64 / STEP_SECONDS);
    let response = app
        .client
        .post(app.url("/api/confirm_two_factor"))
        .header("accept", "text/html")
        .header("origin", &app.origin)
        .header("referer", app.url("/settings/security"))
        .form(&[("code", code.as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FOUND);
    let page = location(&response);
    assert!(page.ends_with("/settings/security?done=enabled"), "{page}");
    let url = if page.starts_with("http") {
        page.clone()
    } else {
        app.url(&page)
    };
    let html = expect_status(app.client.get(&url).send().await.expect("GET"), StatusCode::OK).await;
    assert!(html.contains("data-testid=\"recovery-codes\""), "{html}");
    let again = expect_status(app.client.get(&url).send().await.expect("GET"), StatusCode::OK).await;
    assert!(!again.contains("data-testid=\"recovery-codes\""), "shown once");
}

async fn a_password_alone_no_longer_signs_in_and_a_code_works_once(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, confirmed_step) = enable(&app, &app.client).await;
    let browser = password_step(&app, "alice").await;
    assert_eq!(
        browser
            .get(app.url("/profile"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::SEE_OTHER
    );
    // The code that turned the factor on was used already.
    let used = verify(&app, &browser, &secret.code_at_step(confirmed_step)).await;
    let body = expect_status(used, StatusCode::UNAUTHORIZED).await;
    assert!(body.contains("Incorrect code"), "{body}");
    let code = secret.code_at_step(confirmed_step + 1);
    let done = verify(&app, &browser, &code).await;
    assert!(
        session_cookie_value(&done).is_some_and(|v| !v.is_empty()),
        "signed in"
    );
    assert_eq!(expect_status(done, StatusCode::OK).await, "\"/profile\"");
    assert_eq!(
        browser
            .get(app.url("/profile"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::OK
    );
    // The same code in another sign-in: refused.
    let other = password_step(&app, "alice").await;
    expect_status(verify(&app, &other, &code).await, StatusCode::UNAUTHORIZED).await;
}

async fn twenty_requests_with_one_code_sign_in_once(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, step) = enable(&app, &app.client).await;
    let browsers: Vec<Client> =
        futures::future::join_all((0..20).map(|_| password_step(&app, "alice"))).await;
    let code = secret.code_at_step(step + 1);
    let answers = futures::future::join_all(browsers.iter().map(|b| verify(&app, b, &code))).await;
    let ok = answers.iter().filter(|r| r.status() == StatusCode::OK).count();
    assert_eq!(ok, 1, "one code, one sign-in");
}

async fn a_recovery_code_signs_in_once(app: TestApp) {
    app.signed_up("alice").await;
    let (_, codes, _) = enable(&app, &app.client).await;
    let browser = password_step(&app, "alice").await;
    // Case, spaces and hyphens are ignored.
    let typed = format!(" {} ", codes[3].to_uppercase().replace('-', " "));
    expect_status(verify(&app, &browser, &typed).await, StatusCode::OK).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'recovery_code_used'")
            .await,
        1
    );
    let overview = expect_status(app.call("security", &[]).await, StatusCode::OK).await;
    assert!(overview.contains("\"recovery_codes_left\":9"), "{overview}");
    let again = password_step(&app, "alice").await;
    expect_status(verify(&app, &again, &codes[3]).await, StatusCode::UNAUTHORIZED).await;
}

async fn five_wrong_codes_end_the_pending_sign_in(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, step) = enable(&app, &app.client).await;
    let browser = password_step(&app, "alice").await;
    for n in 1..=5 {
        let body = expect_status(verify(&app, &browser, "123456").await, StatusCode::UNAUTHORIZED).await;
        if n < 5 {
            assert!(body.contains("Incorrect code"), "{n}: {body}");
        } else {
            assert!(body.contains("Too many wrong codes"), "{body}");
        }
    }
    let late = verify(&app, &browser, &secret.code_at_step(step + 1)).await;
    let body = expect_status(late, StatusCode::UNAUTHORIZED).await;
    assert!(body.contains("expired or ended"), "even a right code: {body}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM ceremonies WHERE kind = 'second_factor'")
            .await,
        0
    );
    let failed = app
        .scalar("SELECT CAST(SUM(occurrences) AS BIGINT) FROM audit_events WHERE kind = 'mfa_failed'")
        .await;
    assert_eq!(failed, 5);
    assert!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'mfa_failed'")
            .await
            <= 2,
        "counted, not a row each"
    );
}

async fn a_pending_sign_in_expires_after_five_minutes(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, step) = enable(&app, &app.client).await;
    let browser = password_step(&app, "alice").await;
    let lifetime = app
        .scalar("SELECT expires_at - created_at FROM ceremonies WHERE kind = 'second_factor'")
        .await;
    assert_eq!(lifetime, 300);
    app.travel(301);
    let body = expect_status(
        verify(&app, &browser, &secret.code_at_step(step + 1)).await,
        StatusCode::UNAUTHORIZED,
    )
    .await;
    assert!(body.contains("expired"), "{body}");
    // A pending cookie from nowhere is nothing.
    let forged = Client::new()
        .post(app.url("/api/verify_second_factor"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .header(
            "cookie",
            "gatehouse_pending=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        )
        .form(&[("code", "123456")])
        .send()
        .await
        .expect("POST");
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

async fn wrong_codes_count_towards_the_lock_out(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, step) = enable(&app, &app.client).await;
    // Three attempts allowed: the password step takes one each time.
    let first = password_step(&app, "alice").await;
    expect_status(verify(&app, &first, "123456").await, StatusCode::UNAUTHORIZED).await;
    let locked = verify(&app, &first, &secret.code_at_step(step + 1)).await;
    assert_eq!(
        locked.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "a right code does not open a lock"
    );
}

async fn turning_it_off_needs_a_code_and_new_recovery_codes_replace_the_old(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, codes, step) = enable(&app, &app.client).await;
    expect_status(app.call("regenerate_recovery_codes", &[]).await, StatusCode::OK).await;
    let fresh: Value =
        serde_json::from_str(&expect_status(app.call("new_recovery_codes", &[]).await, StatusCode::OK).await)
            .expect("json");
    assert_eq!(fresh.as_array().map(Vec::len), Some(10));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'recovery_codes_regenerated'")
            .await,
        1
    );
    let browser = password_step(&app, "alice").await;
    expect_status(verify(&app, &browser, &codes[0]).await, StatusCode::UNAUTHORIZED).await;

    let wrong = app.call("disable_two_factor", &[("code", "000000")]).await;
    expect_status(wrong, StatusCode::UNAUTHORIZED).await;
    expect_status(
        app.call("disable_two_factor", &[("code", &secret.code_at_step(step + 1))])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM totp_factors").await, 0);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM recovery_codes").await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'mfa_disabled'")
            .await,
        1
    );
    expect_status(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

/// A stolen session past the window: confirming it's you needs the code too.
async fn confirming_it_is_you_includes_the_second_factor(app: TestApp) {
    app.signed_up("alice").await;
    let (secret, _, step) = enable(&app, &app.client).await;
    app.age_sessions(3600).await;
    let stale = app.call("begin_two_factor", &[]).await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
    let without = app
        .call(
            "reauthenticate",
            &[("password", GOOD_PASSWORD), ("next", "/settings/security")],
        )
        .await;
    let body = expect_status(without, StatusCode::UNAUTHORIZED).await;
    assert!(body.contains("Incorrect code"), "{body}");
    let code = secret.code_at_step(step + 1);
    let with = app
        .call(
            "reauthenticate",
            &[
                ("password", GOOD_PASSWORD),
                ("code", &code),
                ("next", "/settings/security"),
            ],
        )
        .await;
    expect_status(with, StatusCode::OK).await;
    assert!(expect_status(app.call("account", &[]).await, StatusCode::OK)
        .await
        .contains("\"recently_authenticated\":true"));
}

db_tests!(
    setting_it_up_shows_the_key_and_needs_a_first_code,
    the_recovery_codes_show_on_the_page_after_the_form_posts,
    a_password_alone_no_longer_signs_in_and_a_code_works_once,
    twenty_requests_with_one_code_sign_in_once,
    a_recovery_code_signs_in_once,
    five_wrong_codes_end_the_pending_sign_in,
    a_pending_sign_in_expires_after_five_minutes,
    turning_it_off_needs_a_code_and_new_recovery_codes_replace_the_old,
    confirming_it_is_you_includes_the_second_factor,
);

mod lock_out {
    use super::*;
    db_tests!(with [("GATEHOUSE_LOGIN_MAX_FAILURES", "2")]; wrong_codes_count_towards_the_lock_out);
}

/// A provider account is a first factor: GitHub alone does not sign a 2FA user in.
async fn a_provider_sign_in_of_a_two_factor_user_asks_for_the_code(backend: Backend) {
    let fake = FakeProvider::start().await;
    let vars = fake.vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let app = spawn_app_with(backend, &vars).await.expect("app");
    let github = |client: Client| {
        let app = &app;
        async move {
            let start = client
                .get(app.url("/auth/github?next=/members"))
                .send()
                .await
                .expect("start");
            let consent = client.get(location(&start)).send().await.expect("authorize");
            let done = client.get(location(&consent)).send().await.expect("callback");
            (client, done)
        }
    };
    let (first, _) = github(new_client()).await;
    let (secret, _, step) = enable(&app, &first).await;
    let (browser, done) = github(new_client()).await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&done), "/login/two-factor");
    assert!(session_cookie_value(&done).is_none());
    let page = expect_status(
        browser
            .get(app.url("/login/two-factor"))
            .send()
            .await
            .expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("name=\"code\""), "{page}");
    let answer = verify(&app, &browser, &secret.code_at_step(step + 1)).await;
    assert_eq!(
        expect_status(answer, StatusCode::OK).await,
        "\"/members\"",
        "next survives the detour"
    );
}

/// `GATEHOUSE_REQUIRE_2FA=admin`: an admin without the factor reaches only the setup.
async fn admins_must_set_it_up_before_anything_else(backend: Backend) {
    let app = spawn_app_with(backend, &[("GATEHOUSE_REQUIRE_2FA", "admin")])
        .await
        .expect("app");
    let admin = app.user_with_role("ada", "admin").await;
    let member = app.user_with_role("max", "user").await;
    for path in ["/profile", "/admin", "/settings/account", "/"] {
        let response = admin.get(app.url(path)).send().await.expect("GET");
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/settings/security", "{path}");
    }
    let page = expect_status(
        admin
            .get(app.url("/settings/security"))
            .send()
            .await
            .expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("data-testid=\"two-factor-required\""), "{page}");
    let refused = app
        .call_with(&admin, "admin_users", &[("query", ""), ("page", "1")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = app.call_with(&admin, "my_sessions", &[]).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    expect_status(
        member.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    enable(&app, &admin).await;
    expect_status(
        admin.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.call_with(&admin, "admin_users", &[("query", ""), ("page", "1")])
            .await,
        StatusCode::OK,
    )
    .await;
    expect_status(app.call_with(&admin, "logout", &[]).await, StatusCode::OK).await;
}

mod own_apps {
    use super::*;
    backend_tests!(
        a_provider_sign_in_of_a_two_factor_user_asks_for_the_code,
        admins_must_set_it_up_before_anything_else,
    );
}
