//! E-mail over real HTTP and real SMTP: verification links, forgotten passwords, address
//! changes, security notices, and the queue (restarts, a server that is down, rate
//! limits). Messages are read from an in-process SMTP sink (`smtp_sink`).

use crate::{
    helpers::{
        expect_status, location, new_client, now, spawn_app_with, start_on, text, Backend, TestApp,
        GOOD_PASSWORD,
    },
    smtp_sink::SmtpSink,
    two_factor,
};
use gatehouse::model::{MSG_EMAIL_TAKEN, MSG_FORGOT, MSG_LINK_INVALID};
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;

const NEW_PASSWORD: &str = "a-brand-new-passphrase-for-ada";
const VERIFY: &str = "Verify your e-mail address";
const RESET: &str = "Reset your password";

/// An app whose mail goes to a fresh sink, with extra configuration.
async fn app_with_sink(backend: Backend, vars: &[(&str, &str)]) -> Option<(TestApp, SmtpSink)> {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let mut all = vec![("GATEHOUSE_SMTP_URL", url.as_str())];
    all.extend_from_slice(vars);
    let app = spawn_app_with(backend, &all).await?;
    Some((app, sink))
}

/// Signs up `username` with `email` on a new client.
async fn sign_up_with_email(app: &TestApp, username: &str, email: &str) -> Client {
    let client = new_client();
    let response = app
        .call_with(
            &client,
            "signup",
            &[
                ("username", username),
                ("password", GOOD_PASSWORD),
                ("email", email),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    client
}

/// Gives `username` a verified address straight in the database.
async fn verified_address(app: &TestApp, username: &str, email: &str) {
    app.execute(&format!(
        "UPDATE users SET email = '{email}', email_key = '{}', email_verified_at = {} WHERE username = '{username}'",
        email.to_lowercase(),
        now()
    ))
    .await;
}

async fn current_user(app: &TestApp, client: &Client) -> Value {
    serde_json::from_str(
        &expect_status(app.call_with(client, "current_user", &[]).await, StatusCode::OK).await,
    )
    .expect("json")
}

async fn audit_count(app: &TestApp, kind: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM audit_events WHERE kind = '{kind}'"
    ))
    .await
}

async fn error_of(response: reqwest::Response, status: StatusCode) -> String {
    let body = expect_status(response, status).await;
    serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or(body)
}

async fn sign_up_verifies_by_link(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let client = sign_up_with_email(&app, "ada", "Ada@Example.com").await;
    assert_eq!(current_user(&app, &client).await["email_unverified"], true);
    // The banner asks for verification on every page.
    let profile = expect_status(app.get_with(&client, "/profile").await, StatusCode::OK).await;
    assert!(profile.contains("data-testid=\"verify-banner\""), "{profile}");

    let message = sink.wait_for_message("Ada@Example.com", VERIFY).await;
    assert!(message.text().contains("Hello ada,"), "{}", message.text());
    assert!(message.html().contains("<a href=\"http://"), "{}", message.html());
    assert!(!message.html().contains("<img"));
    let link = message.link("/verify-email").expect("a verification link");
    let token = message.token("/verify-email").expect("token");
    assert!(token.len() >= 32, "128 bits or more: {token}");
    // Only the hash is stored.
    assert_eq!(
        app.scalar(&format!("SELECT COUNT(*) FROM email_tokens WHERE id = '{token}'"))
            .await,
        0
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM email_tokens WHERE purpose = 'verify'")
            .await,
        1
    );

    // Opening the link changes nothing (link scanners open links); signed out, too.
    let stranger = new_client();
    let page = expect_status(app.get_with(&stranger, &link).await, StatusCode::OK).await;
    assert!(page.contains("Ada@Example.com"), "{page}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE email_verified_at IS NOT NULL")
            .await,
        0
    );
    // The button does it, without JavaScript: a redirect to the page that says so.
    let response = app
        .post_form_with(&stranger, "/api/verify_email", &[("token", &token)])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/verify-email?done=verified");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE email_verified_at IS NOT NULL")
            .await,
        1
    );
    assert_eq!(current_user(&app, &client).await["email_unverified"], false);
    let profile = expect_status(app.get_with(&client, "/profile").await, StatusCode::OK).await;
    assert!(!profile.contains("verify-banner"));
    assert_eq!(audit_count(&app, "email_verification_sent").await, 1);
    assert_eq!(audit_count(&app, "email_verified").await, 1);

    // Once only.
    let again = app
        .call_with(&stranger, "verify_email", &[("token", &token)])
        .await;
    assert_eq!(error_of(again, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    let page = expect_status(app.get_with(&stranger, &link).await, StatusCode::OK).await;
    assert!(page.contains("link-invalid"), "{page}");
}

async fn forgot_then_reset_ends_every_session_and_signs_in(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let laptop = app.signed_up_with_new_client("ada").await;
    let phone = new_client();
    expect_status(app.login_with(&phone, "ada", GOOD_PASSWORD).await, StatusCode::OK).await;
    verified_address(&app, "ada", "ada@example.com").await;
    // A lock-out from someone guessing is lifted by the reset.
    app.execute("INSERT INTO login_throttle (key, failures, locked_until_ms, updated_at_ms) VALUES ('ada', 9, 9999999999999, 0)")
        .await;

    let browser = new_client();
    // Without JavaScript: the same page, with the answer.
    let response = app
        .post_form_with(&browser, "/api/forgot_password", &[("login", "ADA")])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/forgot-password?sent=1");
    let page = expect_status(
        app.get_with(&browser, "/forgot-password?sent=1").await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains(MSG_FORGOT), "{page}");

    let message = sink.wait_for_message("ada@example.com", RESET).await;
    let link = message.link("/reset-password").expect("a reset link");
    let token = message.token("/reset-password").expect("token");
    let form = expect_status(app.get_with(&browser, &link).await, StatusCode::OK).await;
    assert!(form.contains("name=\"password\""), "{form}");
    assert!(!form.contains("name=\"code\""), "no second factor: no code field");

    // A password the policy refuses leaves the link good.
    let weak = app
        .call_with(
            &browser,
            "reset_password",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(weak.status(), StatusCode::BAD_REQUEST);
    let response = app
        .post_form_with(
            &browser,
            "/api/reset_password",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/settings/account?done=reset");
    // Signed in here, with a new session; the old ones are gone.
    assert_eq!(current_user(&app, &browser).await["username"], "ada");
    assert!(current_user(&app, &laptop).await.is_null());
    assert!(current_user(&app, &phone).await.is_null());
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM login_throttle WHERE key = 'ada'")
            .await,
        0
    );
    // The new password signs in, the old one does not.
    let other = new_client();
    expect_status(app.login_with(&other, "ada", NEW_PASSWORD).await, StatusCode::OK).await;
    let old = app.login_with(&new_client(), "ada", GOOD_PASSWORD).await;
    assert_eq!(old.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(audit_count(&app, "password_reset_requested").await, 1);
    assert_eq!(audit_count(&app, "password_reset").await, 1);
    // A notice says so.
    let notice = sink
        .wait_for_message("ada@example.com", "Your password was changed")
        .await;
    assert!(notice.text().contains("/forgot-password"), "{}", notice.text());
    assert!(notice.link("/reset-password").is_none());

    // The link worked once.
    let again = app
        .call_with(
            &new_client(),
            "reset_password",
            &[("token", &token), ("password", "yet-another-passphrase-1")],
        )
        .await;
    assert_eq!(error_of(again, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    let page = expect_status(app.get_with(&new_client(), &link).await, StatusCode::OK).await;
    assert!(page.contains("link-invalid"), "{page}");
}

async fn unknown_and_unverified_accounts_get_the_same_answer_and_no_mail(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let _ = sign_up_with_email(&app, "ada", "ada@example.com").await; // unverified
    let _ = app.signed_up_with_new_client("bob").await; // no address
    let verification = sink.wait_for(1).await;
    assert_eq!(verification.len(), 1);

    let mut answers = Vec::new();
    for login in [
        "ada",
        "ada@example.com",
        "bob",
        "nobody",
        "nobody@example.com",
        "not an address@",
        "",
    ] {
        let response = app
            .call_with(&new_client(), "forgot_password", &[("login", login)])
            .await;
        answers.push((response.status(), text(response).await));
    }
    assert!(answers.iter().all(|a| a == &answers[0]), "{answers:?}");
    assert_eq!(answers[0].0, StatusCode::OK);
    // The sender looks at the queue every two seconds and when woken: give it time.
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert_eq!(sink.messages().len(), 1, "only the sign-up's verification");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM mail_queue").await, 0);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM email_tokens WHERE purpose = 'reset'")
            .await,
        0
    );

    // The same request for a verified address does send (so the silence above is real).
    verified_address(&app, "bob", "bob@example.com").await;
    expect_status(
        app.call_with(&new_client(), "forgot_password", &[("login", "Bob@Example.com")])
            .await,
        StatusCode::OK,
    )
    .await;
    sink.wait_for_message("bob@example.com", RESET).await;
}

async fn expired_links_do_nothing(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let client = sign_up_with_email(&app, "ada", "ada@example.com").await;
    let verify = sink
        .wait_for_message("ada@example.com", VERIFY)
        .await
        .token("/verify-email")
        .expect("token");
    app.execute(&format!(
        "UPDATE users SET email_verified_at = {} WHERE username = 'ada'",
        now()
    ))
    .await;
    expect_status(
        app.call_with(&client, "forgot_password", &[("login", "ada")])
            .await,
        StatusCode::OK,
    )
    .await;
    let reset = sink
        .wait_for_message("ada@example.com", RESET)
        .await
        .token("/reset-password")
        .expect("token");
    app.execute("UPDATE users SET email_verified_at = NULL").await;
    app.execute(&format!("UPDATE email_tokens SET expires_at = {}", now() - 1))
        .await;

    let late = app
        .call_with(&client, "verify_email", &[("token", &verify)])
        .await;
    assert_eq!(error_of(late, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    let late = app
        .call_with(
            &new_client(),
            "reset_password",
            &[("token", &reset), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(error_of(late, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    // A reset link is not a verification link, nor the other way round, nor junk.
    app.execute(&format!("UPDATE email_tokens SET expires_at = {}", now() + 600))
        .await;
    let wrong = app.call_with(&client, "verify_email", &[("token", &reset)]).await;
    assert_eq!(error_of(wrong, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    let wrong = app
        .call_with(
            &new_client(),
            "reset_password",
            &[("token", &verify), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(error_of(wrong, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);
    for junk in ["", "x", "' OR 1=1 --", &"a".repeat(5000)] {
        let response = app.call_with(&client, "verify_email", &[("token", junk)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{junk}");
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE email_verified_at IS NOT NULL")
            .await,
        0
    );
    expect_status(
        app.login_with(&new_client(), "ada", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

async fn twenty_resets_with_one_link_set_one_password(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let _ = app.signed_up_with_new_client("ada").await;
    verified_address(&app, "ada", "ada@example.com").await;
    let token = sink.reset_token(&app, "ada", "ada@example.com").await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        let token = token.clone();
        async move {
            let password = format!("concurrent-passphrase-number-{i}");
            let response = app
                .call_with(
                    &new_client(),
                    "reset_password",
                    &[("token", &token), ("password", &password)],
                )
                .await;
            (response.status(), password)
        }
    });
    let results = futures::future::join_all(attempts).await;
    let winners: Vec<_> = results.iter().filter(|(s, _)| *s == StatusCode::OK).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|(s, _)| *s == StatusCode::OK || *s == StatusCode::BAD_REQUEST),
        "{results:?}"
    );
    // The winner's password is the one that works.
    expect_status(
        app.login_with(&new_client(), "ada", &winners[0].1).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 2);
    assert_eq!(audit_count(&app, "password_reset").await, 1);
}

async fn a_reset_asks_for_the_second_factor(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let client = app.signed_up_with_new_client("ada").await;
    let (_, codes, _) = two_factor::enable(&app, &client).await;
    verified_address(&app, "ada", "ada@example.com").await;
    expect_status(
        app.call_with(&new_client(), "forgot_password", &[("login", "ada")])
            .await,
        StatusCode::OK,
    )
    .await;
    let message = sink.wait_for_message("ada@example.com", RESET).await;
    let token = message.token("/reset-password").expect("token");
    let browser = new_client();
    let form = expect_status(
        app.get_with(&browser, &message.link("/reset-password").expect("link"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(form.contains("name=\"code\""), "{form}");

    let without = app
        .call_with(
            &browser,
            "reset_password",
            &[("token", &token), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(without.status(), StatusCode::BAD_REQUEST);
    let wrong = app
        .call_with(
            &browser,
            "reset_password",
            &[("token", &token), ("password", NEW_PASSWORD), ("code", "000000")],
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // The link survives a wrong code; a recovery code completes the reset.
    let right = app
        .call_with(
            &browser,
            "reset_password",
            &[("token", &token), ("password", NEW_PASSWORD), ("code", &codes[0])],
        )
        .await;
    expect_status(right, StatusCode::OK).await;
    assert_eq!(current_user(&app, &browser).await["username"], "ada");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM totp_factors WHERE confirmed_at IS NOT NULL")
            .await,
        1
    );
}

async fn a_new_address_replaces_the_old_only_once_verified(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let client = sign_up_with_email(&app, "ada", "old@example.com").await;
    let token = sink
        .wait_for_message("old@example.com", VERIFY)
        .await
        .token("/verify-email")
        .expect("token");
    expect_status(
        app.call_with(&client, "verify_email", &[("token", &token)]).await,
        StatusCode::OK,
    )
    .await;
    let _ = sign_up_with_email(&app, "bob", "bob@example.com").await;

    // Junk is refused.
    let junk = app
        .call_with(&client, "change_email", &[("email", "not-an-address")])
        .await;
    assert_eq!(junk.status(), StatusCode::BAD_REQUEST);

    let response = app
        .post_form_with(&client, "/api/change_email", &[("email", "new@example.com")])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/settings/account?done=email-pending");
    let account: Value = serde_json::from_str(
        &expect_status(app.call_with(&client, "account", &[]).await, StatusCode::OK).await,
    )
    .expect("json");
    assert_eq!(account["email"]["address"], "old@example.com");
    assert_eq!(account["email"]["verified"], true);
    assert_eq!(account["email"]["pending"], "new@example.com");
    let confirm = sink
        .wait_for_message("new@example.com", "Confirm your new e-mail address")
        .await;
    let token = confirm.token("/verify-email").expect("token");
    // A reset asked for now goes to the old address, still the account's.
    let old_reset = sink.reset_token(&app, "ada", "old@example.com").await;

    expect_status(
        app.call_with(&new_client(), "verify_email", &[("token", &token)])
            .await,
        StatusCode::OK,
    )
    .await;
    let account: Value = serde_json::from_str(
        &expect_status(app.call_with(&client, "account", &[]).await, StatusCode::OK).await,
    )
    .expect("json");
    assert_eq!(account["email"]["address"], "new@example.com");
    assert_eq!(account["email"]["verified"], true);
    assert!(account["email"]["pending"].is_null());
    let notice = sink
        .wait_for_message("old@example.com", "Your e-mail address was changed")
        .await;
    assert!(notice.text().contains("new@example.com"), "{}", notice.text());
    assert_eq!(audit_count(&app, "email_changed").await, 1);
    // The reset link sent to the old address died with it.
    let late = app
        .call_with(
            &new_client(),
            "reset_password",
            &[("token", &old_reset), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(error_of(late, StatusCode::BAD_REQUEST).await, MSG_LINK_INVALID);

    // Changing the address needs a recent sign-in.
    app.age_sessions(3600).await;
    let stale = app
        .call_with(&client, "change_email", &[("email", "third@example.com")])
        .await;
    assert_eq!(stale.status(), StatusCode::FORBIDDEN);
}

/// The change form tells nobody whether an address has an account: another account's
/// address gets the same answer, and the same page afterwards, as a free one; that
/// account's owner is told instead of being sent a link, and no link reaches them.
async fn an_address_of_another_account_gets_the_answer_of_a_free_one(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let _bob = sign_up_with_email(&app, "bob", "bob@example.com").await;
    let token = sink
        .wait_for_message("bob@example.com", VERIFY)
        .await
        .token("/verify-email")
        .expect("token");
    expect_status(
        app.call_with(&new_client(), "verify_email", &[("token", &token)])
            .await,
        StatusCode::OK,
    )
    .await;
    let ada = sign_up_with_email(&app, "ada", "ada@example.com").await;
    let carol = sign_up_with_email(&app, "carol", "carol@example.com").await;
    sink.wait_for(3).await;

    // The same question, for a taken address and a free one, by two accounts alike.
    let mut answers = Vec::new();
    for (client, address) in [(&ada, "BOB@example.com"), (&carol, "free@example.com")] {
        let json = app.call_with(client, "change_email", &[("email", address)]).await;
        let json = (json.status(), json.text().await.expect("body"));
        let form = app
            .post_form_with(client, "/api/change_email", &[("email", address)])
            .await;
        let form = (form.status(), location(&form));
        let account: Value = serde_json::from_str(
            &expect_status(app.call_with(client, "account", &[]).await, StatusCode::OK).await,
        )
        .expect("json");
        let pending = account["email"]["pending"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        answers.push((json, form, pending == address.to_lowercase()));
    }
    assert_eq!(answers[0], answers[1], "taken vs free");
    assert_eq!(answers[0].0 .0, StatusCode::OK);

    // The owner of the taken address is told; the link goes only to the free one.
    let notice = sink
        .wait_for_message("bob@example.com", "Someone tried to use your e-mail address")
        .await;
    assert!(notice.link("/verify-email").is_none());
    sink.wait_for_message("free@example.com", "Confirm your new e-mail address")
        .await;
    assert!(sink
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|to| to.contains("bob@example.com")))
        .all(|m| m.link("/verify-email").is_none() || m.subject() == VERIFY));
    // A resend of the waiting change tells the owner again, and sends no link either.
    expect_status(
        app.call_with(&ada, "resend_verification", &[]).await,
        StatusCode::OK,
    )
    .await;
    let notices = || {
        sink.messages()
            .iter()
            .filter(|m| m.subject() == "Someone tried to use your e-mail address")
            .count()
    };
    for _ in 0..100 {
        if notices() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Ada asked twice (the JSON call and the form), then once more.
    assert_eq!(notices(), 3);
    // Bob keeps his address.
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE email_key = 'bob@example.com' AND username = 'bob'")
            .await,
        1
    );
}

async fn a_message_queued_before_a_restart_is_sent_after_it(backend: Backend) {
    // An SMTP server that is down: a port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = dead.local_addr().expect("addr").port();
    drop(dead);
    let down = format!("smtp://127.0.0.1:{dead_port}");
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_SMTP_URL", down.as_str())]).await else {
        return;
    };
    // The request does not wait for SMTP, and does not fail.
    let started = std::time::Instant::now();
    let _ = sign_up_with_email(&app, "ada", "ada@example.com").await;
    assert!(started.elapsed() < Duration::from_secs(5));
    // The sender tried, failed, and kept the message.
    let mut tried = false;
    for _ in 0..100 {
        if app.scalar("SELECT COUNT(*) FROM mail_queue WHERE attempts >= 1 AND last_error IS NOT NULL AND locked_until = 0").await == 1 {
            tried = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(tried, "the failed message stays queued with its error");
    // Nothing readable in the queue: the message (and its link) is sealed.
    let sealed = app.texts("SELECT sealed FROM mail_queue").await;
    assert!(!sealed[0].contains("verify-email"), "{}", sealed[0]);

    let database = app.stop().await;
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let app = start_on(
        database,
        &[("GATEHOUSE_SMTP_URL", url.as_str())],
        axum::Router::new(),
    )
    .await;
    let message = sink.wait_for_message("ada@example.com", VERIFY).await;
    assert!(message.link("/verify-email").is_some());
    for _ in 0..50 {
        if app.scalar("SELECT COUNT(*) FROM mail_queue").await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM mail_queue").await,
        0,
        "sent messages leave the queue"
    );
    assert_eq!(sink.messages().len(), 1, "sent once");
}

/// `?tls=starttls` requires the upgrade: a server that does not offer it gets nothing,
/// never the message in plain text.
async fn starttls_never_falls_back_to_plain_text(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = format!("{}?tls=starttls", sink.url());
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_SMTP_URL", url.as_str())]).await else {
        return;
    };
    let _ = sign_up_with_email(&app, "ada", "ada@example.com").await;
    let mut failed = false;
    for _ in 0..100 {
        if app
            .scalar("SELECT COUNT(*) FROM mail_queue WHERE last_error IS NOT NULL")
            .await
            == 1
        {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "the message stays queued with its error");
    assert!(sink.messages().is_empty(), "nothing went out without TLS");
}

async fn mail_is_rate_limited_per_address_and_per_client(backend: Backend) {
    let vars = [
        ("GATEHOUSE_RATE_MAIL_ADDRESS", "2/1h"),
        ("GATEHOUSE_RATE_MAIL_IP", "4/1h"),
    ];
    let Some((app, sink)) = app_with_sink(backend, &vars).await else {
        return;
    };
    let _ = app.signed_up_with_new_client("ada").await;
    verified_address(&app, "ada", "ada@example.com").await;
    // Four requests from one client: each answered alike, two links sent.
    for _ in 0..4 {
        let response = app
            .call_with(&new_client(), "forgot_password", &[("login", "ada")])
            .await;
        let body = expect_status(response, StatusCode::OK).await;
        assert!(body.contains("forgot-password"), "{body}");
    }
    sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.messages().len(), 2);
    // The fifth from this client is refused, with the time to wait.
    let refused = app
        .call_with(&new_client(), "forgot_password", &[("login", "ada")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
}

/// A stranger asking for mail to someone's address uses up the stranger's share of that
/// address's allowance, not its owner's: the owner, from another client address, still
/// gets a reset link, and an account's own requests from its settings always go out.
async fn a_strangers_requests_do_not_use_up_the_owners_mail(backend: Backend) {
    let vars = [
        ("GATEHOUSE_RATE_MAIL_ADDRESS", "2/1h"),
        ("GATEHOUSE_TRUST_PROXY", "true"),
    ];
    let Some((app, sink)) = app_with_sink(backend, &vars).await else {
        return;
    };
    let _ = app.signed_up_with_new_client("ada").await;
    verified_address(&app, "ada", "ada@example.com").await;
    let forgot_from = |ip: &'static str| {
        let app = &app;
        async move {
            let response = new_client()
                .post(app.url("/api/forgot_password"))
                .header("accept", "application/json")
                .header("origin", &app.origin)
                .header("x-forwarded-for", ip)
                .form(&[("login", "ada")])
                .send()
                .await
                .expect("POST");
            expect_status(response, StatusCode::OK).await;
        }
    };
    // A stranger asks four times: two links go out, then the stranger's share is spent.
    for _ in 0..4 {
        forgot_from("203.0.113.9").await;
    }
    sink.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(sink.messages().len(), 2);
    // The owner, from home, still gets one.
    forgot_from("198.51.100.7").await;
    sink.wait_for(3).await;

    // Bob's address waits for verification; Mallory keeps asking to put it on her
    // account. Her share of it runs out; Bob's own resend still goes out.
    let bob = sign_up_with_email(&app, "bob", "bob@example.com").await;
    sink.wait_for(4).await;
    let mallory = app.signed_up_with_new_client("mallory").await;
    for _ in 0..2 {
        let response = app
            .call_with(&mallory, "change_email", &[("email", "bob@example.com")])
            .await;
        expect_status(response, StatusCode::OK).await;
    }
    let refused = app
        .call_with(&mallory, "change_email", &[("email", "bob@example.com")])
        .await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    expect_status(
        app.call_with(&bob, "resend_verification", &[]).await,
        StatusCode::OK,
    )
    .await;
    sink.wait_for(5).await;
    let to_bob = sink
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|to| to.contains("bob@example.com")))
        .count();
    assert_eq!(to_bob, 2, "the sign-up link and the resend");
}

async fn sign_up_follows_the_email_setting(backend: Backend) {
    let Some((app, _sink)) = app_with_sink(backend, &[("GATEHOUSE_SIGNUP_EMAIL", "required")]).await else {
        return;
    };
    let missing = app.signup_with(&new_client(), "ada", GOOD_PASSWORD).await;
    assert_eq!(
        error_of(missing, StatusCode::BAD_REQUEST).await,
        "Enter an e-mail address."
    );
    for bad in ["ada", "ada@example", "Ada <ada@example.com>", "a@b@example.com"] {
        let response = app
            .call_with(
                &new_client(),
                "signup",
                &[("username", "ada"), ("password", GOOD_PASSWORD), ("email", bad)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let _ = sign_up_with_email(&app, "ada", "ada@example.com").await;
    let taken = app
        .call_with(
            &new_client(),
            "signup",
            &[
                ("username", "bob"),
                ("password", GOOD_PASSWORD),
                ("email", "ADA@example.com"),
            ],
        )
        .await;
    assert_eq!(error_of(taken, StatusCode::CONFLICT).await, MSG_EMAIL_TAKEN);
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);
    let page = expect_status(app.get_with(&new_client(), "/signup").await, StatusCode::OK).await;
    assert!(page.contains("type=\"email\""), "{page}");

    let Some(off) = spawn_app_with(backend, &[("GATEHOUSE_SIGNUP_EMAIL", "off")]).await else {
        return;
    };
    let page = expect_status(off.get_with(&new_client(), "/signup").await, StatusCode::OK).await;
    assert!(!page.contains("type=\"email\""));
    // A typed address is ignored when the site asks for none.
    let _ = sign_up_with_email(&off, "ada", "ada@example.com").await;
    assert_eq!(
        off.scalar("SELECT COUNT(*) FROM users WHERE email IS NULL").await,
        1
    );
}

async fn notices_go_to_the_verified_address(backend: Backend) {
    let Some((app, sink)) = app_with_sink(backend, &[]).await else {
        return;
    };
    let client = app.signed_up_with_new_client("ada").await;
    // No verified address, no notice.
    let response = app
        .call_with(
            &client,
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    verified_address(&app, "ada", "ada@example.com").await;
    let response = app
        .call_with(
            &client,
            "change_password",
            &[
                ("current_password", NEW_PASSWORD),
                ("new_password", GOOD_PASSWORD),
            ],
        )
        .await;
    expect_status(response, StatusCode::OK).await;
    sink.wait_for_message("ada@example.com", "Your password was changed")
        .await;
    // Two-factor sign-in turned on, then off.
    let (_, codes, _) = two_factor::enable(&app, &client).await;
    sink.wait_for_message("ada@example.com", "Two-factor sign-in was turned on")
        .await;
    expect_status(
        app.call_with(&client, "disable_two_factor", &[("code", &codes[0])])
            .await,
        StatusCode::OK,
    )
    .await;
    let notice = sink
        .wait_for_message("ada@example.com", "Two-factor sign-in was turned off")
        .await;
    assert!(notice.text().contains("/forgot-password"));
    assert_eq!(sink.messages().len(), 3);
}

async fn without_smtp_messages_go_to_the_outbox(backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let outbox = dir.path().join("outbox");
    let outbox_var = outbox.display().to_string();
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_MAIL_OUTBOX", outbox_var.as_str())]).await else {
        return;
    };
    let _ = sign_up_with_email(&app, "ada", "ada@example.com").await;
    let mut files = Vec::new();
    for _ in 0..100 {
        files = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if !files.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(files.len(), 1, "{files:?}");
    assert!(files[0].extension().is_some_and(|e| e == "eml"), "{files:?}");
    let eml = std::fs::read_to_string(&files[0]).expect("read the message");
    let received = crate::smtp_sink::Received {
        from: String::new(),
        to: vec![],
        data: eml.replace("\r\n", "\n").replace('\n', "\r\n"),
    };
    assert_eq!(received.subject(), VERIFY);
    assert!(received
        .header("To")
        .is_some_and(|t| t.contains("ada@example.com")));
    let link = received.link("/verify-email").expect("the link");
    let page = expect_status(app.get_with(&new_client(), &link).await, StatusCode::OK).await;
    assert!(page.contains("ada@example.com"));
}

/// Addresses keyed by a migration's SQL `lower()` (ASCII only on SQLite) get the
/// application's keys at the next start: the address is found however it is typed, and
/// of two accounts that turn out to share one the older keeps it.
async fn addresses_keyed_in_sql_are_re_keyed_at_start_up(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    app.signed_up("ada").await;
    app.signed_up("bob").await;
    let at = now();
    // As the e-mail migration left them: SQLite's lower() folds A–Z only.
    app.execute(&format!(
        "UPDATE users SET email = 'ÉLODIE@Example.com', email_key = 'Élodie@example.com', \
         email_verified_at = {at} WHERE username = 'ada'"
    ))
    .await;
    app.execute(&format!(
        "UPDATE users SET email = 'élodie@example.com', email_key = 'élodie@example.com', \
         email_verified_at = {at} WHERE username = 'bob'"
    ))
    .await;
    let database = app.stop().await;
    let app = start_on(database, &[], axum::Router::new()).await;
    let keys = app
        .texts("SELECT COALESCE(email_key, '-') FROM users ORDER BY id")
        .await;
    assert_eq!(keys, vec!["élodie@example.com".to_owned(), "-".to_owned()]);
    // Typed in any case, the address is ada's.
    expect_status(
        app.call_with(
            &new_client(),
            "forgot_password",
            &[("login", "Élodie@EXAMPLE.com")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let links_to_ada = "SELECT COUNT(*) FROM email_tokens t JOIN users u ON u.id = t.user_id \
                        WHERE t.purpose = 'reset' AND u.username = 'ada'";
    for _ in 0..100 {
        if app.scalar(links_to_ada).await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no reset link was made for ada");
}

backend_tests!(
    addresses_keyed_in_sql_are_re_keyed_at_start_up,
    sign_up_verifies_by_link,
    forgot_then_reset_ends_every_session_and_signs_in,
    unknown_and_unverified_accounts_get_the_same_answer_and_no_mail,
    expired_links_do_nothing,
    twenty_resets_with_one_link_set_one_password,
    a_reset_asks_for_the_second_factor,
    a_new_address_replaces_the_old_only_once_verified,
    an_address_of_another_account_gets_the_answer_of_a_free_one,
    a_message_queued_before_a_restart_is_sent_after_it,
    mail_is_rate_limited_per_address_and_per_client,
    a_strangers_requests_do_not_use_up_the_owners_mail,
    starttls_never_falls_back_to_plain_text,
    sign_up_follows_the_email_setting,
    notices_go_to_the_verified_address,
    without_smtp_messages_go_to_the_outbox,
);
