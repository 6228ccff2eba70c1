//! Credentials, written the way the attacks go (SPEC §14, "What counts as a recent
//! authentication" and "Credentials version"):
//! - someone with a stolen session and the password, but no code, cannot use a password
//!   change (or a deletion) to skip the second factor;
//! - wrong codes at `/reauth` count towards the lock-out, and checks of a signed-in
//!   user's password are limited like sign-ins;
//! - a sign-in (or a pending two-factor sign-in) that began before a reset, a password
//!   change, "sign out everywhere", a two-factor reset or a disable never ends with a
//!   working session.

use crate::{
    helpers::{
        answer, expect_status, message_of, new_client, now, session_cookie_value, TestApp, GOOD_PASSWORD,
    },
    two_factor::enable,
};
use gatehouse::{
    api::security::RegenerateRecoveryCodes,
    model::ErrorKind,
    server::auth::totp::{TotpSecret, STEP_SECONDS},
};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;

const NEW_PASSWORD: &str = "a-brand-new-passphrase-for-ada";

/// The JSON body of a server-function error.
async fn error_json(response: reqwest::Response, status: StatusCode) -> Value {
    let body = expect_status(response, status).await;
    serde_json::from_str(&body).unwrap_or_else(|_| panic!("not a JSON error: {body}"))
}

/// A code of the authenticator app for the step after `used_step` (a code is good once).
fn next_code(secret: &TotpSecret, used_step: u64) -> String {
    let step = (now() as u64 / STEP_SECONDS).max(used_step + 1);
    secret.code_at_step(step)
}

/// Signs in with the password on a fresh browser, which then holds a pending sign-in.
async fn pending_browser(app: &TestApp, username: &str) -> Client {
    let browser = new_client();
    let response = app.login_with(&browser, username, GOOD_PASSWORD).await;
    assert!(
        session_cookie_value(&response).is_none(),
        "no session before the code"
    );
    assert_eq!(
        expect_status(response, StatusCode::OK).await,
        "\"/login/two-factor\""
    );
    browser
}

/// H1: the password alone is not a recent authentication on an account with a second
/// factor. A stolen session older than the window, with the password, gets the
/// "confirm it's you" step — and no fresh session that would open the rest.
async fn a_password_change_does_not_skip_the_second_factor(app: TestApp) {
    app.signed_up("ada").await;
    let (_secret, _codes, _) = enable(&app, &app.client).await;
    app.age_sessions(11 * 60).await;
    let refused = |response: reqwest::Response| async move {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let error = answer::<String>(response).await.expect_err("refused");
        assert_eq!(error.kind, ErrorKind::ReauthRequired, "{error:?}");
    };

    // (Called by name: a server build never serialises a password, so the typed
    // arguments of these functions can't be sent from here.)
    let change = [
        ("current_password", GOOD_PASSWORD),
        ("new_password", NEW_PASSWORD),
    ];
    refused(app.call("change_password", &change).await).await;
    // Nothing changed: the old password still leads to the code step.
    pending_browser(&app, "ada").await;
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ada"));
    // And the session did not become a recent authentication.
    refused(app.send(&app.client, &RegenerateRecoveryCodes {}).await).await;

    // Deleting the account is held to the same rule.
    refused(app.call("delete_account", &[("password", GOOD_PASSWORD)]).await).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
}

/// H1: the session a password change issues keeps the confirmation time of the one it
/// replaces, so a change never opens the actions that need a recent authentication.
async fn the_session_after_a_password_change_is_not_a_fresh_confirmation(app: TestApp) {
    app.signed_up("ada").await;
    app.age_sessions(11 * 60).await;
    // Without a second factor the current password is enough to change it …
    let response = app
        .call(
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ada"));
    // … but the new session is as old a confirmation as the one it replaced.
    let response = app.call("begin_two_factor", &[]).await;
    let error = error_json(response, StatusCode::FORBIDDEN).await;
    assert_eq!(error["kind"], "reauth_required", "{error}");
}

/// H1: with a recent confirmation, a two-factor account changes its password, and the
/// new session is still recently confirmed.
async fn a_confirmed_two_factor_account_changes_its_password(app: TestApp) {
    app.signed_up("ada").await;
    let (secret, codes, step) = enable(&app, &app.client).await;
    app.age_sessions(11 * 60).await;
    let response = app
        .call(
            "reauthenticate",
            &[("password", GOOD_PASSWORD), ("code", &next_code(&secret, step))],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    let response = app
        .call(
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    let response = app.call("regenerate_recovery_codes", &[]).await;
    expect_status(response, StatusCode::OK).await;
    drop(codes);
}

/// M1: wrong codes at `/reauth` count towards the lock-out even when the password is
/// right: the counter is cleared only when every factor was.
async fn wrong_codes_at_reauth_reach_the_lock_out(app: TestApp) {
    app.signed_up("ada").await;
    let (secret, _codes, step) = enable(&app, &app.client).await;
    app.age_sessions(11 * 60).await;
    let mut first_refusal = None;
    for attempt in 1..=20 {
        let response = app
            .call(
                "reauthenticate",
                &[("password", GOOD_PASSWORD), ("code", "000000")],
            )
            .await;
        match response.status() {
            StatusCode::TOO_MANY_REQUESTS => {
                first_refusal = Some(attempt);
                break;
            }
            status => assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN,
                "attempt {attempt}: {status}"
            ),
        }
    }
    let first = first_refusal.expect("the wrong codes locked the account");
    assert!(first <= 6, "locked only at attempt {first}");
    // Held from here on (the first lock is one second long): only the code decides.
    app.hold_locks().await;
    for _ in 0..15 {
        let response = app
            .call(
                "reauthenticate",
                &[("password", GOOD_PASSWORD), ("code", "000000")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    // A right code does not open the lock either.
    let response = app
        .call(
            "reauthenticate",
            &[("password", GOOD_PASSWORD), ("code", &next_code(&secret, step))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// M2: every check of a signed-in user's password costs a hash, so it is counted like a
/// sign-in: per client address …
async fn password_checks_are_limited_per_client(app: TestApp) {
    app.signed_up("ada").await;
    let mut answers = Vec::new();
    for _ in 0..8 {
        let response = app.call("reauthenticate", &[("password", GOOD_PASSWORD)]).await;
        answers.push(response.status());
    }
    assert!(answers[..5].iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    assert!(
        answers[5..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
    // A password change is the same work, and is refused before any hashing too.
    let response = app
        .call(
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// M2: … and per account, from however many addresses.
async fn password_checks_are_limited_per_account(app: TestApp) {
    app.signed_up("ada").await;
    let mut answers = Vec::new();
    for i in 0..8 {
        let response = app
            .client
            .post(app.url("/api/reauthenticate"))
            .header("accept", "application/json")
            .header("origin", &app.origin)
            .header("x-forwarded-for", format!("198.51.100.{}", i + 1))
            .form(&[("password", GOOD_PASSWORD)])
            .send()
            .await
            .expect("POST");
        answers.push(response.status());
    }
    assert!(answers[..5].iter().all(|s| *s == StatusCode::OK), "{answers:?}");
    assert!(
        answers[5..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS),
        "{answers:?}"
    );
}

/// Starts a password sign-in of `username` whose hash is held (see
/// `PasswordHasher::hold_verifications`), and waits until it is parked there.
async fn parked_sign_in(
    app: &TestApp,
    username: &'static str,
) -> (Client, tokio::task::JoinHandle<reqwest::Response>) {
    let browser = new_client();
    let client = browser.clone();
    let url = app.url("/api/login");
    let origin = app.origin.clone();
    let task = tokio::spawn(async move {
        client
            .post(url)
            .header("accept", "application/json")
            .header("origin", origin)
            .form(&[("username", username), ("password", GOOD_PASSWORD), ("next", "")])
            .send()
            .await
            .expect("sign-in")
    });
    for _ in 0..500 {
        if app.state.hasher.waiting_verifications() > 0 {
            return (browser, task);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the sign-in never reached the password check");
}

/// `gatehouse user set-password NAME` on the app's database, in a process of its own.
async fn set_password_on_the_command_line(app: &TestApp, username: &str, password: &str) {
    use std::io::Write;
    let url = app.database.url.clone();
    let (username, password) = (username.to_owned(), password.to_owned());
    let output = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .args(["user", "set-password", &username])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", url)
            .env("GATEHOUSE_SECRET_KEY", crate::helpers::TEST_SECRET_KEY)
            .env("RUST_LOG", "error")
            .current_dir(std::env::temp_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run gatehouse");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{password}\n").as_bytes())
            .expect("password on stdin");
        child.wait_with_output().expect("gatehouse ran")
    })
    .await
    .expect("task");
    assert!(
        output.status.success(),
        "set-password failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The sign-in ended without a session that works.
async fn got_no_working_session(app: &TestApp, browser: &Client, response: reqwest::Response) {
    let status = response.status();
    let body = response.text().await.expect("body");
    assert!(
        app.signed_in_as(browser).await.is_none(),
        "the sign-in answered {status} {body} and its session works"
    );
    assert_ne!(status, StatusCode::OK, "{body}");
}

/// M3: a sign-in that checked the old password does not commit its session after a
/// password change made meanwhile (the change ends every session, including one that
/// was still being issued).
async fn a_sign_in_checking_the_old_password_loses_to_a_password_change(app: TestApp) {
    app.signed_up("ada").await;
    let hold = app.state.hasher.hold_verifications().await;
    let (browser, sign_in) = parked_sign_in(&app, "ada").await;
    // The password is changed (here by the operator, as another process) while the
    // sign-in is checking the old one.
    set_password_on_the_command_line(&app, "ada", NEW_PASSWORD).await;
    drop(hold);
    let response = sign_in.await.expect("sign-in task");
    got_no_working_session(&app, &browser, response).await;
    // The new password works.
    expect_status(
        app.login_with(&new_client(), "ada", NEW_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

/// M3: a sign-in racing an administrator's disable keeps no session (this raced on
/// PostgreSQL: the disable's delete ran before the sign-in's insert committed).
async fn a_sign_in_racing_a_disable_keeps_no_session(app: TestApp) {
    let admin = app.user_with_role("root", "owner").await;
    app.signed_up("ada").await;
    let ada = app.user_id("ada").await;
    let hold = app.state.hasher.hold_verifications().await;
    let (browser, sign_in) = parked_sign_in(&app, "ada").await;
    let response = app
        .call_with(
            &admin,
            "disable_user",
            &[("user_id", &ada.to_string()), ("reason", ""), ("until", "")],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    drop(hold);
    let response = sign_in.await.expect("sign-in task");
    got_no_working_session(&app, &browser, response).await;
}

/// L2: a pending two-factor sign-in begun before "sign out of all other sessions" ends
/// with it: its right code no longer signs in.
async fn sign_out_everywhere_ends_pending_sign_ins(app: TestApp) {
    app.signed_up("ada").await;
    let (secret, _codes, step) = enable(&app, &app.client).await;
    let thief = pending_browser(&app, "ada").await;
    expect_status(app.call("revoke_other_sessions", &[]).await, StatusCode::OK).await;
    // The owner's own browser carries on with a new session.
    assert_eq!(app.signed_in_as(&app.client).await.as_deref(), Some("ada"));
    let response = app
        .call_with(
            &thief,
            "verify_second_factor",
            &[("code", &next_code(&secret, step))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(app.signed_in_as(&thief).await.is_none());
}

/// L2: … and so does one begun before a password change or a disable.
async fn a_password_change_and_a_disable_end_pending_sign_ins(app: TestApp) {
    app.signed_up("ada").await;
    let (secret, _codes, step) = enable(&app, &app.client).await;
    let before_change = pending_browser(&app, "ada").await;
    let response = app
        .call(
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    let response = app
        .call_with(
            &before_change,
            "verify_second_factor",
            &[("code", &next_code(&secret, step))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(app.signed_in_as(&before_change).await.is_none());

    let admin = app.user_with_role("root", "owner").await;
    let browser = new_client();
    let response = app.login_with(&browser, "ada", NEW_PASSWORD).await;
    assert_eq!(
        expect_status(response, StatusCode::OK).await,
        "\"/login/two-factor\""
    );
    let ada = app.user_id("ada").await;
    let response = app
        .call_with(
            &admin,
            "disable_user",
            &[("user_id", &ada.to_string()), ("reason", ""), ("until", "")],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    let response = app
        .call_with(
            &browser,
            "verify_second_factor",
            &[("code", &next_code(&secret, step + 1))],
        )
        .await;
    assert!(
        matches!(
            response.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ),
        "{}",
        response.status()
    );
    assert!(app.signed_in_as(&browser).await.is_none());
}

/// L2: the "five wrong codes" rule holds under twenty codes at once: at most five are
/// ever checked, and the pending sign-in is over afterwards.
async fn twenty_wrong_codes_at_once_check_at_most_five(app: TestApp) {
    app.signed_up("ada").await;
    let (secret, _codes, step) = enable(&app, &app.client).await;
    let browser = pending_browser(&app, "ada").await;
    let codes: Vec<String> = (0..20)
        .map(|i| format!("{:06}", (i * 7919) % 1_000_000))
        .collect();
    // The twenty arrive while the pending sign-in's row is busy, so they meet there.
    let hold = app.hold_writes("SELECT id FROM ceremonies FOR UPDATE").await;
    let tries = futures::future::join_all(codes.iter().map(|code| {
        let (app, browser) = (&app, &browser);
        async move {
            app.call_with(browser, "verify_second_factor", &[("code", code.as_str())])
                .await
        }
    }));
    let release = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(hold);
    };
    let (answers, ()) = tokio::join!(tries, release);
    for response in answers {
        let message = message_of(response, StatusCode::UNAUTHORIZED).await;
        assert!(!message.is_empty());
    }
    // Every code checked and found wrong is one occurrence of `mfa_failed`.
    let checked = app
        .scalar("SELECT CAST(COALESCE(SUM(occurrences), 0) AS BIGINT) FROM audit_events WHERE kind = 'mfa_failed'")
        .await;
    assert!((1..=5).contains(&checked), "{checked} codes were checked");
    let response = app
        .call_with(
            &browser,
            "verify_second_factor",
            &[("code", &next_code(&secret, step))],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(app.signed_in_as(&browser).await.is_none());
}

/// M3, the mechanism: a session issued under an older credentials version than its
/// user's does not validate, whatever slipped past the deletes of the event that raised
/// it (a sign-in that committed its session just after them).
async fn a_session_of_an_older_credentials_version_does_not_validate(app: TestApp) {
    app.signed_up("ada").await;
    let other = new_client();
    expect_status(app.login_with(&other, "ada", GOOD_PASSWORD).await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&other).await.as_deref(), Some("ada"));
    // What a password change, a reset, "sign out everywhere" or a disable does to the
    // user's row — here without deleting any session.
    app.execute("UPDATE users SET credentials_version = credentials_version + 1")
        .await;
    assert!(app.signed_in_as(&other).await.is_none());
    assert!(app.signed_in_as(&app.client).await.is_none());
    let page = app.get_with(&other, "/profile").await;
    assert_eq!(page.status(), StatusCode::SEE_OTHER);
}

db_tests!(
    a_session_of_an_older_credentials_version_does_not_validate,
    a_password_change_does_not_skip_the_second_factor,
    the_session_after_a_password_change_is_not_a_fresh_confirmation,
    a_confirmed_two_factor_account_changes_its_password,
    a_sign_in_checking_the_old_password_loses_to_a_password_change,
    a_sign_in_racing_a_disable_keeps_no_session,
    sign_out_everywhere_ends_pending_sign_ins,
    a_password_change_and_a_disable_end_pending_sign_ins,
    twenty_wrong_codes_at_once_check_at_most_five,
);

mod lock_out {
    use super::*;
    db_tests!(with [("GATEHOUSE_LOGIN_MAX_FAILURES", "5")]; wrong_codes_at_reauth_reach_the_lock_out);
}

mod client_limit {
    use super::*;
    db_tests!(with [("GATEHOUSE_RATE_SIGNIN", "5/1m")]; password_checks_are_limited_per_client);
}

mod account_limit {
    use super::*;
    db_tests!(
        with [("GATEHOUSE_RATE_SIGNIN", "5/1m"), ("GATEHOUSE_TRUST_PROXY", "true")];
        password_checks_are_limited_per_account
    );
}
