//! Disabling an account (SPEC §18, docs/accounts.md "Roles"): every session ends at once, every way
//! of signing in — password, provider, passkey, reset link — answers 403 until it is
//! enabled again or its end passes, and only the right roles may do it.

use crate::{
    authenticator::Authenticator,
    fake_provider::FakeProvider,
    helpers::{
        answer, expect_status, message_of, new_client, now, spawn_app_with, Backend, TestApp, GOOD_PASSWORD,
    },
    oauth::sign_in_with,
    passkeys::{add_passkey, passkey_sign_in, ON_LOCALHOST},
    smtp_sink::SmtpSink,
};
use gatehouse::{
    api::{
        admin::{AdminUsers, DeleteUser, DisableUser, EnableUser, SignOutUser},
        email::ForgotPassword,
    },
    model::{UsersPage, MSG_DISABLED},
};
use reqwest::{Client, StatusCode};

/// What `disable_user` is given besides the user: a reason, an end (`2h`, a date).
#[derive(Default)]
struct Disabling<'a> {
    reason: Option<&'a str>,
    until: Option<&'a str>,
}

impl<'a> Disabling<'a> {
    fn because(reason: &'a str) -> Self {
        Disabling {
            reason: Some(reason),
            until: None,
        }
    }

    fn until(until: &'a str) -> Self {
        Disabling {
            reason: None,
            until: Some(until),
        }
    }
}

async fn disable(app: &TestApp, admin: &Client, username: &str, how: Disabling<'_>) -> reqwest::Response {
    let args = DisableUser {
        user_id: app.user_id(username).await,
        reason: how.reason.map(str::to_owned),
        until: how.until.map(str::to_owned),
    };
    app.send(admin, &args).await
}

async fn enable(app: &TestApp, admin: &Client, username: &str) -> reqwest::Response {
    let args = EnableUser {
        user_id: app.user_id(username).await,
    };
    app.send(admin, &args).await
}

async fn a_disabled_user_is_signed_out_and_cannot_sign_in_with_a_password(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let alice = app.signed_up_with_new_client("alice").await;
    let phone = new_client();
    expect_status(
        app.login_with(&phone, "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;

    let done = expect_status(
        disable(&app, &owner, "alice", Disabling::because("spam")).await,
        StatusCode::OK,
    )
    .await;
    assert!(done.contains("alice is disabled; 2 sessions ended"), "{done}");
    // Her live sessions are gone at once: the next request is signed out.
    assert_eq!(app.signed_in_as(&alice).await, None);
    assert_eq!(app.signed_in_as(&phone).await, None);
    let profile = app.get_with(&alice, "/profile").await;
    assert_eq!(profile.status(), StatusCode::SEE_OTHER);
    // The right password: 403 with the message; a wrong one stays a plain 401.
    let refused = app.login_with(&new_client(), "alice", GOOD_PASSWORD).await;
    assert_eq!(message_of(refused, StatusCode::FORBIDDEN).await, MSG_DISABLED);
    let wrong = app
        .login_with(&new_client(), "alice", "not-her-password-at-all")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'alice')"
        )
        .await,
        0
    );
    assert_eq!(
        app.texts("SELECT detail FROM audit_events WHERE kind = 'account_disabled'")
            .await,
        ["until enabled: spam (by an admin)"]
    );
    // The admin page shows it (and filters by it); the reason is for admins.
    let search = AdminUsers {
        query: String::new(),
        page: 1,
        state: Some("disabled".to_owned()),
    };
    let listed = answer::<UsersPage>(app.send(&owner, &search).await)
        .await
        .expect("the disabled users");
    assert_eq!(listed.total, 1);
    assert_eq!(listed.users[0].username, "alice");
    let reason = listed.users[0]
        .disabled
        .as_ref()
        .and_then(|d| d.reason.as_deref());
    assert_eq!(reason, Some("spam"));
    let page = expect_status(
        app.get_with(&owner, "/admin?state=disabled").await,
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("data-testid=\"user-disabled\""), "{page}");

    // Enabled again, she signs in.
    expect_status(enable(&app, &owner, "alice").await, StatusCode::OK).await;
    expect_status(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'account_enabled'")
            .await,
        1
    );
}

async fn a_disabling_with_an_end_lifts_itself(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    app.signed_up_with_new_client("alice").await;
    for (until, expected) in [
        ("yesterday", StatusCode::BAD_REQUEST),
        ("2001-01-01T00:00", StatusCode::BAD_REQUEST),
    ] {
        assert_eq!(
            disable(&app, &owner, "alice", Disabling::until(until))
                .await
                .status(),
            expected,
            "{until}"
        );
    }
    expect_status(
        disable(&app, &owner, "alice", Disabling::until("2h")).await,
        StatusCode::OK,
    )
    .await;
    let refused = app.login_with(&new_client(), "alice", GOOD_PASSWORD).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    // Its end passes: she signs in without anyone enabling her.
    app.execute(&format!(
        "UPDATE users SET disabled_until = {} WHERE username = 'alice'",
        now() - 1
    ))
    .await;
    expect_status(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
    // A date and time (UTC) works too.
    expect_status(
        disable(&app, &owner, "alice", Disabling::until("2999-01-31T18:00")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'alice' AND disabled_until = 32474800800")
            .await,
        1
    );
}

async fn only_the_right_roles_may_disable(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let admin = app.user_with_role("ann", "admin").await;
    let other_admin = app.user_with_role("bea", "admin").await;
    let member = app.user_with_role("max", "user").await;
    app.signed_up_with_new_client("alice").await;

    // Signed out: 401. A member: 403.
    assert_eq!(
        disable(&app, &new_client(), "alice", Disabling::default())
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        disable(&app, &member, "alice", Disabling::default())
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // An admin: users below admin only, never themselves.
    assert_eq!(
        disable(&app, &admin, "bea", Disabling::default()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        disable(&app, &admin, "boss", Disabling::default()).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        disable(&app, &admin, "ann", Disabling::default()).await.status(),
        StatusCode::FORBIDDEN
    );
    expect_status(
        disable(&app, &admin, "alice", Disabling::default()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        enable(&app, &other_admin, "boss").await.status(),
        StatusCode::FORBIDDEN
    );
    expect_status(enable(&app, &other_admin, "alice").await, StatusCode::OK).await;
    // An owner: admins too, but not the last owner (themselves included).
    expect_status(
        disable(&app, &owner, "bea", Disabling::default()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.signed_in_as(&other_admin).await, None);
    assert_eq!(
        disable(&app, &owner, "boss", Disabling::default()).await.status(),
        StatusCode::FORBIDDEN
    );
    // An unknown user.
    let missing = app
        .send(
            &owner,
            &DisableUser {
                user_id: 999_999,
                reason: None,
                until: None,
            },
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE disabled_at IS NOT NULL")
            .await,
        1
    );
}

async fn a_disabled_users_passkeys_do_not_sign_in(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &ON_LOCALHOST).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let alice = app.signed_up_with_new_client("alice").await;
    let mut key = Authenticator::for_site(&app.origin);
    add_passkey(&app, &alice, &mut key, "Key").await;
    expect_status(
        disable(&app, &owner, "alice", Disabling::default()).await,
        StatusCode::OK,
    )
    .await;
    let browser = new_client();
    let refused = passkey_sign_in(&app, &browser, &mut key, 0).await;
    let body = expect_status(refused, StatusCode::FORBIDDEN).await;
    assert!(body.contains(MSG_DISABLED), "{body}");
    assert_eq!(app.signed_in_as(&browser).await, None);
    expect_status(enable(&app, &owner, "alice").await, StatusCode::OK).await;
    expect_status(passkey_sign_in(&app, &browser, &mut key, 0).await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&browser).await.as_deref(), Some("alice"));
}

async fn a_disabled_users_provider_does_not_sign_in(backend: Backend) {
    let fake = FakeProvider::start().await;
    let vars = fake.vars();
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(app) = spawn_app_with(backend, &borrowed).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let first = new_client();
    assert_eq!(
        sign_in_with(&app, &first, "github", "/").await.status(),
        StatusCode::SEE_OTHER
    );
    let name = app.signed_in_as(&first).await.expect("signed in with GitHub");
    expect_status(
        disable(&app, &owner, &name, Disabling::default()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.signed_in_as(&first).await, None);
    let again = new_client();
    let refused = sign_in_with(&app, &again, "github", "/").await;
    let page = expect_status(refused, StatusCode::FORBIDDEN).await;
    assert!(page.contains(MSG_DISABLED), "{page}");
    assert_eq!(app.signed_in_as(&again).await, None);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users").await,
        2,
        "no second account"
    );
}

async fn a_disabled_user_gets_no_reset_and_a_link_does_not_sign_in(backend: Backend) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let Some(app) = spawn_app_with(backend, &[("GATEHOUSE_SMTP_URL", url.as_str())]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    app.signed_up_with_new_client("alice").await;
    app.execute(&format!(
        "UPDATE users SET email = 'alice@example.com', email_key = 'alice@example.com', email_verified_at = {} WHERE username = 'alice'",
        now()
    ))
    .await;
    // A link asked for before the disabling does not get past it.
    let token = sink.reset_token(&app, "alice", "alice@example.com").await;
    expect_status(
        disable(&app, &owner, "alice", Disabling::default()).await,
        StatusCode::OK,
    )
    .await;
    let browser = new_client();
    let refused = app
        .call_with(
            &browser,
            "reset_password",
            &[("token", &token), ("password", "a-brand-new-passphrase-1")],
        )
        .await;
    assert_eq!(message_of(refused, StatusCode::FORBIDDEN).await, MSG_DISABLED);
    assert_eq!(app.signed_in_as(&browser).await, None);
    // Asked for now: the same answer, and nothing is sent.
    expect_status(
        app.send(
            &new_client(),
            &ForgotPassword {
                login: "alice".to_owned(),
            },
        )
        .await,
        StatusCode::OK,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(sink.messages().len(), 1);
    // The password did not change.
    expect_status(enable(&app, &owner, "alice").await, StatusCode::OK).await;
    expect_status(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

async fn admins_sign_users_out_and_delete_them_within_their_role(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let admin = app.user_with_role("ann", "admin").await;
    let alice = app.signed_up_with_new_client("alice").await;
    let id = |name: &'static str| {
        let app = &app;
        async move { app.user_id(name).await }
    };
    let sign_out = |user_id| SignOutUser { user_id };
    let delete = |user_id, confirm: Option<&str>| DeleteUser {
        user_id,
        confirm: confirm.map(str::to_owned),
    };
    // Signing out everywhere.
    let refused = app.send(&admin, &sign_out(id("boss").await)).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let own = app.send(&admin, &sign_out(id("ann").await)).await;
    assert_eq!(own.status(), StatusCode::FORBIDDEN);
    let done = expect_status(
        app.send(&admin, &sign_out(id("alice").await)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        done.contains("alice was signed out everywhere (1 session ended)"),
        "{done}"
    );
    assert_eq!(app.signed_in_as(&alice).await, None);
    assert_eq!(app.signed_in_as(&admin).await.as_deref(), Some("ann"));
    // Deleting: the box must be ticked; the role rules apply; the trail keeps the name.
    let alice_id = id("alice").await;
    let unticked = app.send(&admin, &delete(alice_id, None)).await;
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    let above = app.send(&admin, &delete(id("boss").await, Some("yes"))).await;
    assert_eq!(above.status(), StatusCode::FORBIDDEN);
    let last = app.send(&owner, &delete(id("boss").await, Some("yes"))).await;
    assert_eq!(last.status(), StatusCode::FORBIDDEN);
    let member = app.user_with_role("max", "user").await;
    let by_member = app.send(&member, &delete(alice_id, Some("yes"))).await;
    assert_eq!(by_member.status(), StatusCode::FORBIDDEN);
    expect_status(
        app.send(&admin, &delete(alice_id, Some("yes"))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'alice'")
            .await,
        0
    );
    assert_eq!(
        app.texts("SELECT username FROM audit_events WHERE kind = 'account_deleted'")
            .await,
        ["alice"]
    );
    let again = app.send(&admin, &delete(alice_id, Some("yes"))).await;
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    // An owner deletes an admin.
    expect_status(
        app.send(&owner, &delete(id("ann").await, Some("yes"))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(app.signed_in_as(&admin).await, None);
}

backend_tests!(
    admins_sign_users_out_and_delete_them_within_their_role,
    a_disabled_user_is_signed_out_and_cannot_sign_in_with_a_password,
    a_disabling_with_an_end_lifts_itself,
    only_the_right_roles_may_disable,
    a_disabled_users_passkeys_do_not_sign_in,
    a_disabled_users_provider_does_not_sign_in,
    a_disabled_user_gets_no_reset_and_a_link_does_not_sign_in,
);
