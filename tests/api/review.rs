//! The smaller findings of the second wave's security review (SPEC §14, §16, §17), each
//! written the way the attack goes: owners and admins, actions that need a recent
//! authentication, notices, a double submit, the audit trail under a moving guesser,
//! two-factor policy and passkeys, and a key rotation half done.

use crate::{
    authenticator::Authenticator,
    fake_provider::FakeProvider,
    helpers::{
        expect_status, message_of, new_client, now, spawn_app_with, Backend, TestApp, GOOD_PASSWORD,
        TEST_SECRET_KEY,
    },
    passkeys::{add_passkey, ON_LOCALHOST},
    smtp_sink::SmtpSink,
    two_factor::enable,
};
use gatehouse::model::MSG_DISABLED;
use reqwest::{Client, StatusCode};
use serde_json::Value;
use std::time::Duration;

async fn kind_of(response: reqwest::Response, status: StatusCode) -> String {
    let body = expect_status(response, status).await;
    let value: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("not JSON: {body}"));
    value["kind"].as_str().unwrap_or_default().to_owned()
}

async fn call_on(
    app: &TestApp,
    client: &Client,
    endpoint: &str,
    target: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let id = app.user_id(target).await.to_string();
    let mut fields = vec![("user_id", id.as_str())];
    fields.extend_from_slice(extra);
    app.call_with(client, endpoint, &fields).await
}

/// L3: an administrator viewing as a user who is setting up two-factor sign-in does not
/// see the key being set up (it would let them add the user's second factor to their
/// own authenticator).
async fn viewing_as_a_user_shows_no_key_being_set_up(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("root", "admin").await;
    let alice = app.signed_up_with_new_client("alice").await;
    expect_status(
        app.call_with(&alice, "begin_two_factor", &[]).await,
        StatusCode::OK,
    )
    .await;
    let own: Value = serde_json::from_str(
        &expect_status(app.call_with(&alice, "security", &[]).await, StatusCode::OK).await,
    )
    .expect("json");
    let key = own["two_factor"]["SettingUp"]["key"]
        .as_str()
        .expect("alice sees her key")
        .replace(' ', "");
    expect_status(
        call_on(&app, &admin, "view_as", "alice", &[]).await,
        StatusCode::OK,
    )
    .await;
    let seen = expect_status(app.call_with(&admin, "security", &[]).await, StatusCode::OK).await;
    assert!(!seen.contains("SettingUp") && !seen.contains("otpauth"), "{seen}");
    let page = expect_status(app.get_with(&admin, "/settings/security").await, StatusCode::OK).await;
    let grouped: String = own["two_factor"]["SettingUp"]["key"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        !page.contains(&key) && !page.contains(&grouped),
        "the page shows the key"
    );
}

/// L4: an admin never acts on an owner, unlocking included (a lock-out the owner has is
/// someone else's guessing, and lifting it again and again gives the guesser more tries).
async fn an_admin_cannot_unlock_an_owner(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_LOGIN_MAX_FAILURES", "3")]).await else {
        return;
    };
    let owner = app.user_with_role("olivia", "owner").await;
    let admin = app.user_with_role("adam", "admin").await;
    for _ in 0..3 {
        app.login_with(&new_client(), "olivia", "not-her-password").await;
    }
    app.hold_locks().await;
    for _ in 0..3 {
        let response = call_on(&app, &admin, "unlock_user", "olivia", &[]).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let locked = app
        .scalar("SELECT COUNT(*) FROM login_throttle WHERE key = 'olivia' AND locked_until_ms > 0")
        .await;
    assert_eq!(locked, 1, "the owner's lock stays");
    // Another owner may.
    let other = app.user_with_role("otto", "owner").await;
    expect_status(
        call_on(&app, &other, "unlock_user", "olivia", &[]).await,
        StatusCode::OK,
    )
    .await;
    // An admin still unlocks a user.
    app.signed_up("ursula").await;
    expect_status(
        call_on(&app, &admin, "unlock_user", "ursula", &[]).await,
        StatusCode::OK,
    )
    .await;
    drop(owner);
}

/// L5: "the last owner" means the last enabled one: with the other owner disabled, the
/// remaining one can neither step down nor delete their account.
async fn a_disabled_owner_does_not_count_as_another_owner(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let olivia = app.user_with_role("olivia", "owner").await;
    let _otto = app.user_with_role("otto", "owner").await;
    let response = call_on(
        &app,
        &olivia,
        "disable_user",
        "otto",
        &[("reason", ""), ("until", "")],
    )
    .await;
    expect_status(response, StatusCode::OK).await;
    let response = call_on(&app, &olivia, "set_role", "olivia", &[("role", "admin")]).await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    let response = app
        .call_with(&olivia, "delete_account", &[("password", GOOD_PASSWORD)])
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert_eq!(app.role_of("olivia").await, "owner");
}

/// L5: an owner whose account was disabled while their request was on its way (two
/// owners disabling each other at the same moment) is refused when the rows are read
/// under the lock: the site keeps an enabled owner.
async fn a_disabled_owner_cannot_disable_the_last_enabled_one(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let olivia = app.user_with_role("olivia", "owner").await;
    let _otto = app.user_with_role("otto", "owner").await;
    // Otto's disabling of Olivia committed; her request had passed the session check.
    app.execute(&format!(
        "UPDATE users SET disabled_at = {} WHERE username = 'olivia'",
        now()
    ))
    .await;
    let response = call_on(
        &app,
        &olivia,
        "disable_user",
        "otto",
        &[("reason", ""), ("until", "")],
    )
    .await;
    assert_eq!(message_of(response, StatusCode::FORBIDDEN).await, MSG_DISABLED);
    let enabled_owners = app
        .scalar("SELECT COUNT(*) FROM users WHERE role = 'owner' AND disabled_at IS NULL")
        .await;
    assert_eq!(enabled_owners, 1);
}

/// L5, the race itself: two owners send "disable the other" at once, twenty times over
/// on fresh pairs; never are both disabled.
async fn two_owners_disabling_each_other_at_once_leave_one(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    for round in 0..10 {
        let (a, b) = (format!("owner-a{round}"), format!("owner-b{round}"));
        let first = app.user_with_role(&a, "owner").await;
        let second = app.user_with_role(&b, "owner").await;
        let (x, y) = tokio::join!(
            call_on(&app, &first, "disable_user", &b, &[("reason", ""), ("until", "")]),
            call_on(
                &app,
                &second,
                "disable_user",
                &a,
                &[("reason", ""), ("until", "")]
            ),
        );
        assert!(x.status() == StatusCode::OK || y.status() == StatusCode::OK);
        let both = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM users WHERE username IN ('{a}', '{b}') AND disabled_at IS NOT NULL"
            ))
            .await;
        assert!(both <= 1, "round {round}: both owners disabled each other");
        // Leave one enabled owner per round only: the next pair adds two more.
        app.execute(&format!(
            "UPDATE users SET role = 'user' WHERE username IN ('{a}', '{b}')"
        ))
        .await;
    }
}

/// L6: signing one's other sessions out needs a recent authentication (a stolen session
/// must not sign its owner out); signing this browser out does not.
async fn revoking_other_sessions_needs_a_recent_authentication(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    app.signed_up("ada").await;
    let phone = new_client();
    expect_status(app.login_with(&phone, "ada", GOOD_PASSWORD).await, StatusCode::OK).await;
    let sessions: Value =
        serde_json::from_str(&expect_status(app.call("my_sessions", &[]).await, StatusCode::OK).await)
            .expect("json");
    let handle_of = |current: bool| {
        sessions
            .as_array()
            .expect("list")
            .iter()
            .find(|s| s["current"] == current)
            .and_then(|s| s["handle"].as_str())
            .expect("a session")
            .to_owned()
    };
    let (mine, other) = (handle_of(true), handle_of(false));
    app.age_sessions(11 * 60).await;
    let response = app.call("revoke_session", &[("handle", &other)]).await;
    assert_eq!(kind_of(response, StatusCode::FORBIDDEN).await, "reauth_required");
    let response = app.call("revoke_other_sessions", &[]).await;
    assert_eq!(kind_of(response, StatusCode::FORBIDDEN).await, "reauth_required");
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 2);
    // Confirmed, it works; and signing this browser out never needs it.
    expect_status(
        app.call("reauthenticate", &[("password", GOOD_PASSWORD)]).await,
        StatusCode::OK,
    )
    .await;
    expect_status(
        app.call("revoke_session", &[("handle", &other)]).await,
        StatusCode::OK,
    )
    .await;
    app.age_sessions(11 * 60).await;
    expect_status(
        app.call("revoke_session", &[("handle", &mine)]).await,
        StatusCode::OK,
    )
    .await;
}

/// L11: the admin actions need a recent authentication too; lifting a lock-out does not
/// (it gives nobody a way in).
async fn admin_actions_need_a_recent_authentication(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("root", "owner").await;
    app.signed_up("ursula").await;
    app.age_sessions(11 * 60).await;
    for (endpoint, extra) in [
        ("set_role", vec![("role", "none")]),
        ("disable_user", vec![("reason", ""), ("until", "")]),
        ("enable_user", vec![]),
        ("sign_out_user", vec![]),
        ("delete_user", vec![("confirm", "ursula")]),
        ("view_as", vec![]),
    ] {
        let response = call_on(&app, &admin, endpoint, "ursula", &extra).await;
        assert_eq!(
            kind_of(response, StatusCode::FORBIDDEN).await,
            "reauth_required",
            "{endpoint}"
        );
    }
    assert_eq!(app.role_of("ursula").await, "user");
    expect_status(
        call_on(&app, &admin, "unlock_user", "ursula", &[]).await,
        StatusCode::OK,
    )
    .await;
}

/// L8: the owner hears of the changes that matter: a sign-in from a browser new to the
/// account (once per browser), new recovery codes and a provider connected; a passkey's
/// name reaches the notice without the characters that could disguise it.
async fn notices_for_a_new_device_new_codes_a_provider_and_a_passkey(backend: Backend) {
    let fake = FakeProvider::start().await;
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let mut vars: Vec<(String, String)> = fake.vars().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    vars.push(("GATEHOUSE_SMTP_URL".to_owned(), url));
    vars.extend(
        ON_LOCALHOST
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let Some(app) = spawn_app_with(backend, &vars).await else {
        return;
    };
    app.signed_up("ada").await;
    app.execute(&format!(
        "UPDATE users SET email = 'ada@example.com', email_key = 'ada@example.com', email_verified_at = {} \
         WHERE username = 'ada'",
        now()
    ))
    .await;
    // A browser that never signed in as ada: a notice, naming the browser.
    let laptop = new_client();
    expect_status(
        app.login_with(&laptop, "ada", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    let notice = sink
        .wait_for_message("ada@example.com", "A new sign-in to your account")
        .await;
    assert!(notice.text().contains("Chrome on Linux"), "{}", notice.text());
    // The same browser again: known now, no second notice.
    expect_status(
        app.login_with(&laptop, "ada", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;

    let (_, _codes, _) = enable(&app, &laptop).await;
    expect_status(
        app.call_with(&laptop, "regenerate_recovery_codes", &[]).await,
        StatusCode::OK,
    )
    .await;
    sink.wait_for_message("ada@example.com", "New recovery codes were made")
        .await;

    // A provider connected from settings.
    let start = laptop
        .post(app.url("/auth/github/link"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("link");
    let consent = laptop
        .get(crate::helpers::location(&start))
        .send()
        .await
        .expect("authorize");
    laptop
        .get(crate::helpers::location(&consent))
        .send()
        .await
        .expect("callback");
    sink.wait_for_message("ada@example.com", "GitHub was connected to your account")
        .await;

    // A passkey named to mislead: the stored name and the notice lose the override.
    let mut key = Authenticator::for_site(&app.origin);
    let added = add_passkey(&app, &laptop, &mut key, "Phone\u{202E}gnp.exe").await;
    assert_eq!(added["name"], "Phonegnp.exe", "{added}");
    let notice = sink
        .wait_for_message("ada@example.com", "A passkey was added to your account")
        .await;
    assert!(notice.text().contains("\"Phonegnp.exe\""), "{}", notice.text());
    assert!(!notice.text().contains('\u{202E}') && !notice.html().contains('\u{202E}'));
    let new_devices = sink
        .messages()
        .iter()
        .filter(|m| m.subject() == "A new sign-in to your account")
        .count();
    assert_eq!(new_devices, 1, "one notice per new browser");
}

/// L12: confirming two-factor sign-in twice at once (a double submit) turns it on once:
/// the second answer does not make new recovery codes that replace the ones the first
/// answer is showing.
async fn a_double_submitted_confirmation_makes_codes_once(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    app.signed_up("ada").await;
    expect_status(app.call("begin_two_factor", &[]).await, StatusCode::OK).await;
    let overview: Value =
        serde_json::from_str(&expect_status(app.call("security", &[]).await, StatusCode::OK).await)
            .expect("json");
    let key = overview["two_factor"]["SettingUp"]["key"].as_str().expect("key");
    let secret = gatehouse::server::auth::totp::TotpSecret::from_base32(key).expect("key");
    let code = secret.code_at_step(now() as u64 / gatehouse::server::auth::totp::STEP_SECONDS);
    // The twenty meet at the factor's row (on PostgreSQL each read it unconfirmed first).
    let hold = app
        .hold_writes("SELECT user_id FROM totp_factors FOR UPDATE")
        .await;
    let confirmations = futures::future::join_all((0..20).map(|_| {
        let (app, code) = (&app, &code);
        async move {
            app.call("confirm_two_factor", &[("code", code.as_str())])
                .await
                .status()
        }
    }));
    let release = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        drop(hold);
    };
    let (answers, ()) = tokio::join!(confirmations, release);
    let turned_on = answers.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(turned_on, 1, "{answers:?}");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM recovery_codes").await,
        10,
        "{answers:?}"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'mfa_enabled'")
            .await,
        1
    );
}

/// L13: repeated wrong codes are one audit row per window, which shows where the
/// guesses come from now, not only where they started.
async fn a_coalesced_audit_row_keeps_the_latest_address(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_TRUST_PROXY", "true")]).await else {
        return;
    };
    app.signed_up("ada").await;
    let (_, _, _) = enable(&app, &app.client).await;
    for ip in ["203.0.113.1", "203.0.113.2", "198.51.100.3"] {
        let browser = new_client();
        let login = browser
            .post(app.url("/api/login"))
            .header("accept", "application/json")
            .header("origin", &app.origin)
            .header("x-forwarded-for", ip)
            .form(&[("username", "ada"), ("password", GOOD_PASSWORD), ("next", "")])
            .send()
            .await
            .expect("sign in");
        expect_status(login, StatusCode::OK).await;
        let wrong = browser
            .post(app.url("/api/verify_second_factor"))
            .header("accept", "application/json")
            .header("origin", &app.origin)
            .header("x-forwarded-for", ip)
            .form(&[("code", "000000")])
            .send()
            .await
            .expect("code");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    let rows = app
        .texts("SELECT ip FROM audit_events WHERE kind = 'mfa_failed'")
        .await;
    assert_eq!(rows, vec!["198.51.100.3".to_owned()]);
    assert_eq!(
        app.scalar("SELECT CAST(occurrences AS BIGINT) FROM audit_events WHERE kind = 'mfa_failed'")
            .await,
        3
    );
}

/// L16: a passkey is two factors in one, so a passkey-only admin meets
/// `GATEHOUSE_REQUIRE_2FA` without setting up an authenticator app.
async fn a_passkey_satisfies_the_two_factor_requirement(backend: Backend) {
    let mut vars: Vec<(&str, &str)> = ON_LOCALHOST.to_vec();
    vars.push(("GATEHOUSE_REQUIRE_2FA", "admin"));
    let Some(app) = spawn_app_with(backend, &vars).await else {
        return;
    };
    let admin = app.user_with_role("root", "admin").await;
    let response = app.get_with(&admin, "/profile").await;
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "without a factor: to the setup"
    );
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &admin, &mut key, "Laptop").await;
    let response = app.get_with(&admin, "/profile").await;
    assert_eq!(response.status(), StatusCode::OK);
    let security: Value = serde_json::from_str(
        &expect_status(app.call_with(&admin, "security", &[]).await, StatusCode::OK).await,
    )
    .expect("json");
    assert_eq!(security["required"], false, "{security}");
    expect_status(
        app.call_with(&admin, "admin_users", &[("query", ""), ("page", "1")])
            .await,
        StatusCode::OK,
    )
    .await;
}

/// A server key other than the tests' one.
const OTHER_KEY: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";

/// M4: during a key rotation, an instance without the new key meets messages the new
/// instances queued: it keeps them for an instance that can open them (counted in
/// `gatehouse_mail_undecryptable`), and a two-factor secret it cannot open is a clear
/// 503, not a 500.
async fn what_an_instance_cannot_open_it_keeps(backend: Backend) {
    const TOKEN: &str = "metrics-token-for-the-tests-0123";
    // The old instance: the tests' key only, mail to a sink.
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let Some(old) = spawn_app_with(
        backend,
        &[
            ("GATEHOUSE_SMTP_URL", url.as_str()),
            ("GATEHOUSE_METRICS_TOKEN", TOKEN),
        ],
    )
    .await
    else {
        return;
    };
    old.signed_up("ada").await;
    let (_secret, _codes, _) = enable(&old, &old.client).await;
    // A new instance holds the new key (and the old one as previous): what it seals, the
    // old instance cannot open.
    use gatehouse::server::keys::{Keys, SecretKey};
    let new_keys = Keys::new(
        SecretKey::parse(OTHER_KEY).expect("key"),
        Some(SecretKey::parse(TEST_SECRET_KEY).expect("key")),
    );
    let sealed = new_keys.seal(
        gatehouse::server::keys::Purpose::QueuedMail,
        b"mail queue",
        br#"{"subject":"x","text":"x","html":"x","link":null}"#,
    );
    old.execute(&format!(
        "INSERT INTO mail_queue (recipient, kind, sealed, next_attempt_at, created_at) \
         VALUES ('ada@example.com', 'verify', '{sealed}', 0, {})",
        now()
    ))
    .await;
    // The old instance tries it, keeps it, and says so.
    let mut kept = false;
    for _ in 0..100 {
        old.state.mailer.wake();
        let marked = old
            .scalar("SELECT COUNT(*) FROM mail_queue WHERE last_error IS NOT NULL")
            .await;
        if marked == 1 {
            kept = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(kept, "the message was tried and kept");
    assert_eq!(old.scalar("SELECT COUNT(*) FROM mail_queue").await, 1);
    let metrics = new_client()
        .get(old.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("scrape")
        .text()
        .await
        .expect("body");
    assert!(
        metrics.lines().any(|l| l == "gatehouse_mail_undecryptable 1"),
        "{metrics}"
    );

    // The TOTP secret, resealed by the new instance, does not open on the old one.
    let resealed = new_keys.seal(
        gatehouse::server::keys::Purpose::TotpSecret,
        format!("user {}", old.user_id("ada").await).as_bytes(),
        &[7u8; 20],
    );
    old.execute(&format!("UPDATE totp_factors SET secret_sealed = '{resealed}'"))
        .await;
    let browser = new_client();
    let response = old.login_with(&browser, "ada", GOOD_PASSWORD).await;
    expect_status(response, StatusCode::OK).await;
    let response = old
        .call_with(&browser, "verify_second_factor", &[("code", "123456")])
        .await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let message = message_of(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(message.contains("can't be checked right now"), "{message}");
    assert_eq!(old.scalar("SELECT COUNT(*) FROM totp_factors").await, 1);
    drop(sink);
}

backend_tests!(
    viewing_as_a_user_shows_no_key_being_set_up,
    an_admin_cannot_unlock_an_owner,
    a_disabled_owner_does_not_count_as_another_owner,
    a_disabled_owner_cannot_disable_the_last_enabled_one,
    two_owners_disabling_each_other_at_once_leave_one,
    revoking_other_sessions_needs_a_recent_authentication,
    admin_actions_need_a_recent_authentication,
    notices_for_a_new_device_new_codes_a_provider_and_a_passkey,
    a_double_submitted_confirmation_makes_codes_once,
    a_coalesced_audit_row_keeps_the_latest_address,
    a_passkey_satisfies_the_two_factor_requirement,
    what_an_instance_cannot_open_it_keeps,
);
