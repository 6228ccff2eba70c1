//! Account settings and session management.

use crate::helpers::{
    answer, expect_status, location, new_client, session_cookie_value, TestApp, GOOD_PASSWORD,
};
use gatehouse::{
    api::settings::{MySessions, RevokeOtherSessions, RevokeSession},
    model::SessionInfo,
};
use reqwest::{Client, StatusCode};

const NEW_PASSWORD: &str = "a-brand-new-passphrase-for-me";

async fn sessions_of(app: &TestApp, client: &Client) -> Vec<SessionInfo> {
    answer::<Vec<SessionInfo>>(app.send(client, &MySessions {}).await)
        .await
        .expect("the sessions")
}

async fn revoke(app: &TestApp, client: &Client, handle: &str) -> reqwest::Response {
    let args = RevokeSession {
        handle: handle.to_owned(),
    };
    app.send(client, &args).await
}

/// Signs `username` in on a new client with a given user agent; returns the client and its token.
async fn device(app: &TestApp, username: &str, user_agent: &str) -> (Client, String) {
    let client = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(user_agent)
        .build()
        .expect("client");
    let response = app.login_with(&client, username, GOOD_PASSWORD).await;
    let token = session_cookie_value(&response).expect("cookie");
    expect_status(response, StatusCode::OK).await;
    (client, token)
}

const FIREFOX_MAC: &str =
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.1; rv:120.0) Gecko/20100101 Firefox/120.0";

async fn the_sessions_page_lists_devices_newest_first_and_marks_this_one(app: TestApp) {
    let owner_token =
        session_cookie_value(&app.signup_with(&app.client, "alice", GOOD_PASSWORD).await).expect("cookie");
    app.travel(100);
    let (_phone, phone_token) = device(&app, "alice", FIREFOX_MAC).await;
    let list = sessions_of(&app, &app.client).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0].device, "Firefox on macOS", "newest first");
    assert_eq!(list[1].device, "Chrome on Linux");
    assert!(list[1].current);
    assert!(!list[0].current);
    assert_eq!(list[0].ip.as_deref(), Some("127.0.0.1"));

    let page = expect_status(app.get("/settings/sessions").await, StatusCode::OK).await;
    assert!(
        page.contains("Firefox on macOS") && page.contains("Chrome on Linux"),
        "{page}"
    );
    assert!(page.contains("data-testid=\"this-device\""));
    // Neither tokens nor their hashes ever reach the page.
    for secret in app
        .texts("SELECT id FROM sessions")
        .await
        .into_iter()
        .chain([owner_token, phone_token])
    {
        assert!(!page.contains(&secret), "the page leaks {secret}");
    }
}

async fn revoking_a_session_signs_that_device_out_at_its_next_request(app: TestApp) {
    app.signed_up("alice").await;
    let (phone, _) = device(&app, "alice", FIREFOX_MAC).await;
    let list = sessions_of(&app, &app.client).await;
    let handle = &list.iter().find(|s| !s.current).expect("the phone").handle;
    let body = expect_status(revoke(&app, &app.client, handle).await, StatusCode::OK).await;
    assert_eq!(body, "\"/settings/sessions?done=revoked\"");
    let after = phone.get(app.url("/profile")).send().await.expect("GET");
    assert_eq!(after.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&after), "/login?next=/profile");
    expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'session_revoked'")
            .await,
        1
    );
}

async fn someone_elses_session_handle_is_not_found(app: TestApp) {
    app.signed_up("alice").await;
    let mallory = app.signed_up_with_new_client("mallory").await;
    let alice_handle = sessions_of(&app, &app.client).await[0].handle.clone();
    let body = expect_status(revoke(&app, &mallory, &alice_handle).await, StatusCode::NOT_FOUND).await;
    assert!(body.contains("does not exist"), "{body}");
    for junk in [
        "",
        "nothandle",
        "' OR 1=1 --",
        &"f".repeat(24),
        &alice_handle.to_uppercase(),
    ] {
        expect_status(revoke(&app, &mallory, junk).await, StatusCode::NOT_FOUND).await;
    }
    expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 2);
}

async fn signing_out_all_other_sessions_keeps_this_one(app: TestApp) {
    app.signed_up("alice").await;
    let (phone, _) = device(&app, "alice", FIREFOX_MAC).await;
    let (tablet, _) = device(
        &app,
        "alice",
        "Mozilla/5.0 (iPad; CPU OS 17_1 like Mac OS X) Safari/604.1",
    )
    .await;
    let bob = app.signed_up_with_new_client("bob").await;
    expect_status(
        app.send(&app.client, &RevokeOtherSessions {}).await,
        StatusCode::OK,
    )
    .await;
    for other in [&phone, &tablet] {
        assert_eq!(
            other.get(app.url("/profile")).send().await.expect("GET").status(),
            StatusCode::SEE_OTHER
        );
    }
    expect_status(app.get("/profile").await, StatusCode::OK).await;
    expect_status(
        bob.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(sessions_of(&app, &app.client).await.len(), 1);
}

async fn changing_the_password_needs_the_current_one_and_signs_out_every_other_session(app: TestApp) {
    let old_token =
        session_cookie_value(&app.signup_with(&app.client, "alice", GOOD_PASSWORD).await).expect("cookie");
    let (phone, _) = device(&app, "alice", FIREFOX_MAC).await;
    let wrong = app
        .call(
            "change_password",
            &[
                ("current_password", "not-my-password"),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    let body = expect_status(wrong, StatusCode::FORBIDDEN).await;
    assert!(body.contains("Your current password is not correct."), "{body}");
    let weak = app
        .call(
            "change_password",
            &[("current_password", GOOD_PASSWORD), ("new_password", "password")],
        )
        .await;
    let body = expect_status(weak, StatusCode::BAD_REQUEST).await;
    assert!(body.contains("too easy to guess"), "{body}");
    expect_status(
        phone.get(app.url("/profile")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;

    let response = app
        .call(
            "change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        )
        .await;
    let new_token = session_cookie_value(&response).expect("this session is re-issued");
    assert_ne!(new_token, old_token);
    expect_status(response, StatusCode::OK).await;
    expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert_eq!(
        phone.get(app.url("/profile")).send().await.expect("GET").status(),
        StatusCode::SEE_OTHER
    );
    let stale = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let replay = stale
        .get(app.url("/profile"))
        .header("cookie", format!("gatehouse_session={old_token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        replay.status(),
        StatusCode::SEE_OTHER,
        "the old token of this browser is gone too"
    );
    assert_eq!(
        app.login_with(&new_client(), "alice", GOOD_PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.login_with(&new_client(), "alice", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'password_changed'")
            .await,
        1
    );
}

async fn a_password_change_without_javascript_comes_back_with_a_notice(app: TestApp) {
    app.signed_up("alice").await;
    let post = |fields: Vec<(&'static str, &'static str)>| {
        app.client
            .post(app.url("/api/change_password"))
            .header("accept", "text/html")
            .header("origin", &app.origin)
            .header("referer", app.url("/settings/account"))
            .form(&fields)
            .send()
    };
    let refused = post(vec![
        ("current_password", "wrong-password-x"),
        ("new_password", NEW_PASSWORD),
    ])
    .await
    .expect("POST");
    assert_eq!(refused.status(), StatusCode::FOUND);
    let page = expect_status(
        app.client.get(location(&refused)).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("Your current password is not correct."), "{page}");
    let ok = post(vec![
        ("current_password", GOOD_PASSWORD),
        ("new_password", NEW_PASSWORD),
    ])
    .await
    .expect("POST");
    assert_eq!(ok.status(), StatusCode::FOUND);
    assert_eq!(location(&ok), "/settings/account?done=password");
    let page = expect_status(app.get("/settings/account?done=password").await, StatusCode::OK).await;
    assert!(page.contains("Your password was saved."), "{page}");
}

async fn an_account_without_a_password_can_set_one(app: TestApp) {
    app.signed_up("oauthy").await;
    app.execute("UPDATE users SET password_hash = NULL WHERE username_key = 'oauthy'")
        .await;
    let page = expect_status(app.get("/settings/account").await, StatusCode::OK).await;
    assert!(
        page.contains("Set password") && !page.contains("name=\"current_password\""),
        "{page}"
    );
    expect_status(
        app.call("change_password", &[("new_password", NEW_PASSWORD)])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.login_with(&new_client(), "oauthy", NEW_PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert!(app
        .texts("SELECT detail FROM audit_events WHERE kind = 'password_changed'")
        .await[0]
        .contains("set"));
}

async fn deleting_the_account_ends_every_session_frees_the_name_and_keeps_the_audit_row(app: TestApp) {
    let token =
        session_cookie_value(&app.signup_with(&app.client, "alice", GOOD_PASSWORD).await).expect("cookie");
    let (phone, _) = device(&app, "alice", FIREFOX_MAC).await;
    let id = app.user_id("alice").await;
    app.execute(&format!("INSERT INTO oauth_accounts (provider, provider_user_id, user_id, created_at) VALUES ('github', '42', {id}, 0)")).await;
    let wrong = app
        .call("delete_account", &[("password", "not-my-password")])
        .await;
    expect_status(wrong, StatusCode::FORBIDDEN).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 1);

    let response = app.call("delete_account", &[("password", GOOD_PASSWORD)]).await;
    assert!(
        session_cookie_value(&response).is_some_and(|v| v.is_empty()),
        "the cookie is cleared"
    );
    expect_status(response, StatusCode::OK).await;
    for table in ["users", "sessions", "oauth_accounts"] {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    let replay = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let old = replay
        .get(app.url("/profile"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(old.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        phone.get(app.url("/profile")).send().await.expect("GET").status(),
        StatusCode::SEE_OTHER
    );
    let kept = app.scalar(&format!("SELECT COUNT(*) FROM audit_events WHERE kind = 'account_deleted' AND username = 'alice' AND user_id = {id}")).await;
    assert_eq!(kept, 1);
    expect_status(
        app.signup_with(&new_client(), "Alice", GOOD_PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

async fn an_account_without_a_password_is_deleted_only_after_a_fresh_sign_in(app: TestApp) {
    app.signed_up("oauthy").await;
    app.execute("UPDATE users SET password_hash = NULL WHERE username_key = 'oauthy'")
        .await;
    app.age_sessions(700).await;
    let stale = app.call("delete_account", &[]).await;
    let body = expect_status(stale, StatusCode::FORBIDDEN).await;
    assert!(body.contains("sign in again"), "{body}");
    app.age_sessions(60).await;
    expect_status(app.call("delete_account", &[]).await, StatusCode::OK).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM users").await, 0);
}

async fn the_last_owner_cannot_delete_their_account(app: TestApp) {
    let owner = app.user_with_role("the-owner", "owner").await;
    let body = expect_status(
        app.call_with(&owner, "delete_account", &[("password", GOOD_PASSWORD)])
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(body.contains("last owner"), "{body}");
    app.user_with_role("second-owner", "owner").await;
    expect_status(
        app.call_with(&owner, "delete_account", &[("password", GOOD_PASSWORD)])
            .await,
        StatusCode::OK,
    )
    .await;
}

async fn settings_functions_need_a_signed_in_user(app: TestApp) {
    for endpoint in [
        "my_sessions",
        "revoke_session",
        "revoke_other_sessions",
        "account",
        "change_password",
        "delete_account",
    ] {
        let response = app
            .call_with(
                &new_client(),
                endpoint,
                &[("handle", "x"), ("new_password", NEW_PASSWORD)],
            )
            .await;
        expect_status(response, StatusCode::UNAUTHORIZED).await;
    }
}

async fn revoking_from_a_form_without_javascript_comes_back_with_a_notice(app: TestApp) {
    app.signed_up("alice").await;
    let (phone, _) = device(&app, "alice", FIREFOX_MAC).await;
    let page = expect_status(app.get("/settings/sessions").await, StatusCode::OK).await;
    let html = scraper::Html::parse_document(&page);
    let selector = scraper::Selector::parse("input[name=\"handle\"]").expect("selector");
    let handles: Vec<String> = html
        .select(&selector)
        .filter_map(|i| i.value().attr("value").map(str::to_owned))
        .collect();
    assert_eq!(handles.len(), 1, "one form: the other device");
    let response = app
        .client
        .post(app.url("/api/revoke_session"))
        .header("accept", "text/html")
        .header("origin", &app.origin)
        .header("referer", app.url("/settings/sessions"))
        .form(&[("handle", handles[0].as_str())])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(location(&response), "/settings/sessions?done=revoked");
    assert_eq!(
        phone.get(app.url("/profile")).send().await.expect("GET").status(),
        StatusCode::SEE_OTHER
    );
    let page = expect_status(app.get("/settings/sessions?done=revoked").await, StatusCode::OK).await;
    assert!(page.contains("That session was signed out."));
}

db_tests!(
    the_sessions_page_lists_devices_newest_first_and_marks_this_one,
    revoking_a_session_signs_that_device_out_at_its_next_request,
    someone_elses_session_handle_is_not_found,
    signing_out_all_other_sessions_keeps_this_one,
    changing_the_password_needs_the_current_one_and_signs_out_every_other_session,
    a_password_change_without_javascript_comes_back_with_a_notice,
    an_account_without_a_password_can_set_one,
    deleting_the_account_ends_every_session_frees_the_name_and_keeps_the_audit_row,
    an_account_without_a_password_is_deleted_only_after_a_fresh_sign_in,
    the_last_owner_cannot_delete_their_account,
    settings_functions_need_a_signed_in_user,
    revoking_from_a_form_without_javascript_comes_back_with_a_notice,
);
