//! "View as" (SPEC §18, docs/accounts.md "Viewing as a user"): an admin sees the app as a user
//! below their own role in a separate, marked session of at most an hour, with a banner
//! naming both; credential, e-mail, two-factor, passkey, deletion and admin actions are
//! refused meanwhile; "Stop" gives the admin their own session back, untouched.

use crate::helpers::{
    answer, expect_status, location, message_of, new_client, now, set_cookies, spawn_app_with, Backend,
    TestApp, GOOD_PASSWORD,
};
use gatehouse::{
    api::{
        admin::{SignOutUser, ViewAs},
        auth::{CurrentUser, Logout, StopViewing},
        settings::MySessions,
    },
    model::{SessionInfo, SessionUser, MSG_VIEWING_AS},
};
use reqwest::{header, Client, StatusCode};

async fn view_as(app: &TestApp, admin: &Client, username: &str) -> reqwest::Response {
    let args = ViewAs {
        user_id: app.user_id(username).await,
    };
    app.send(admin, &args).await
}

/// The `name=value` pair a response sets for the view cookie, and the whole line.
fn view_cookie(response: &reqwest::Response) -> Option<(String, String)> {
    set_cookies(response).into_iter().find_map(|line| {
        let (pair, _) = line.split_once(';').unwrap_or((&line, ""));
        let (name, value) = pair.split_once('=')?;
        (name.trim() == "gatehouse_view_as").then(|| (value.trim().to_owned(), line.clone()))
    })
}

/// A client with no cookie store that sends exactly `cookie`.
fn with_cookie(cookie: &str) -> Client {
    let mut headers = header::HeaderMap::new();
    headers.insert(
        header::COOKIE,
        header::HeaderValue::from_str(cookie).expect("cookie"),
    );
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

async fn an_admin_views_as_a_user_and_stops_with_their_own_session_intact(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("ada", "admin").await;
    let alice = app.signed_up_with_new_client("alice").await;
    let ada_id = app.user_id("ada").await;

    let started = view_as(&app, &admin, "alice").await;
    assert!(
        set_cookies(&started)
            .iter()
            .all(|c| !c.starts_with("gatehouse_session=")),
        "the admin's own session cookie is left alone: {:?}",
        set_cookies(&started)
    );
    let (_, line) = view_cookie(&started).expect("a view cookie");
    assert!(
        line.contains("HttpOnly") && line.contains("Max-Age=3600"),
        "{line}"
    );
    assert_eq!(expect_status(started, StatusCode::OK).await, "\"/profile\"");

    let me = app.current_user(&admin).await.expect("signed in");
    assert_eq!(me.username, "alice");
    assert_eq!(me.viewed_by.as_deref(), Some("ada"));
    let page = expect_status(app.get_with(&admin, "/profile").await, StatusCode::OK).await;
    assert!(page.contains("data-testid=\"view-as-banner\""), "{page}");
    let banner = page
        .split("data-testid=\"view-as-banner\"")
        .nth(1)
        .unwrap_or_default();
    // Without Leptos' hydration markers.
    let banner = banner[..banner.find("</p>").unwrap_or(banner.len())].replace("<!>", "");
    assert!(
        banner.contains(
            "viewing the app as <strong>alice</strong>. You are signed in as <strong>ada</strong>."
        ),
        "{banner}"
    );
    assert!(
        page.contains("<form action=\"/api/stop_viewing\" method=\"post\">")
            && page.replace("<!>", "").contains(">Stop</button>"),
        "a Stop button that works without JavaScript"
    );
    // A separate, marked session of at most an hour, never renewed (a normal session
    // this close to its end would be renewed on this very request).
    let sql = format!("SELECT expires_at - created_at FROM sessions WHERE impersonator_id = {ada_id}");
    assert_eq!(app.scalar(&sql).await, 3600);
    // Alice sees it among her sessions.
    let hers = answer::<Vec<SessionInfo>>(app.send(&alice, &MySessions {}).await)
        .await
        .expect("her sessions");
    let marked: Vec<bool> = hers.iter().map(|s| s.viewed_by_admin).collect();
    assert_eq!(marked.iter().filter(|m| **m).count(), 1, "{hers:?}");
    assert_eq!(marked.len(), 2);
    assert_eq!(
        app.texts("SELECT u.username FROM audit_events e JOIN users u ON u.id = e.actor_id WHERE e.kind = 'impersonation_started'")
            .await,
        ["ada"]
    );

    // Stop: back to the admin's own session, which reaches /admin again.
    let stopped = app.send(&admin, &StopViewing {}).await;
    let (value, _) = view_cookie(&stopped).expect("the view cookie is removed");
    assert!(value.is_empty());
    assert_eq!(expect_status(stopped, StatusCode::OK).await, "\"/admin\"");
    assert_eq!(app.signed_in_as(&admin).await.as_deref(), Some("ada"));
    assert_eq!(app.current_user(&admin).await.and_then(|u| u.viewed_by), None);
    expect_status(app.get_with(&admin, "/admin").await, StatusCode::OK).await;
    assert_eq!(
        app.scalar(&sql.replace("expires_at - created_at", "COUNT(*)"))
            .await,
        0
    );
    assert_eq!(
        app.texts("SELECT detail FROM audit_events WHERE kind = 'impersonation_stopped'")
            .await,
        ["stopped"]
    );
    // A second "Stop" (a double click) changes nothing and is no error.
    expect_status(app.send(&admin, &StopViewing {}).await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&admin).await.as_deref(), Some("ada"));
    // Alice's own session was never touched.
    assert_eq!(app.signed_in_as(&alice).await.as_deref(), Some("alice"));
}

async fn the_view_works_without_javascript(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("ada", "admin").await;
    app.signed_up_with_new_client("alice").await;
    let id = app.user_id("alice").await.to_string();
    let started = app
        .post_form_with(&admin, "/api/view_as", &[("user_id", id.as_str())])
        .await;
    assert_eq!(started.status(), StatusCode::FOUND);
    assert_eq!(location(&started), "/profile");
    let page = expect_status(app.get_with(&admin, "/profile").await, StatusCode::OK).await;
    assert!(page.contains("data-testid=\"view-as-banner\""), "{page}");
    // A refused action answers a page saying why.
    let refused = app
        .post_form_with(
            &admin,
            "/api/change_password",
            &[
                ("current_password", GOOD_PASSWORD),
                ("new_password", "another-good-password-77"),
            ],
        )
        .await;
    let body = expect_status(refused, StatusCode::FORBIDDEN).await;
    assert!(body.contains(MSG_VIEWING_AS), "{body}");
    let stopped = app.post_form_with(&admin, "/api/stop_viewing", &[]).await;
    assert_eq!(stopped.status(), StatusCode::FOUND);
    assert_eq!(location(&stopped), "/admin");
    let admin_page = expect_status(app.get_with(&admin, "/admin").await, StatusCode::OK).await;
    assert!(!admin_page.contains("data-testid=\"view-as-banner\""));
    assert!(
        admin_page.contains("aria-label=\"View as alice\""),
        "{admin_page}"
    );
}

async fn credential_email_two_factor_passkey_deletion_and_admin_actions_are_refused_while_viewing(
    backend: Backend,
) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    app.user_with_role("ann", "admin").await;
    app.signed_up_with_new_client("bob").await;
    // An owner views as an admin: even then, nothing of the admin area opens.
    expect_status(view_as(&app, &owner, "ann").await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&owner).await.as_deref(), Some("ann"));
    let bob_id = app.user_id("bob").await.to_string();
    let password_before = app
        .texts("SELECT password_hash FROM users WHERE username = 'ann'")
        .await;
    for (endpoint, fields) in [
        (
            "change_password",
            vec![
                ("current_password", GOOD_PASSWORD),
                ("new_password", "another-good-password-77"),
            ],
        ),
        ("delete_account", vec![("password", GOOD_PASSWORD)]),
        ("change_email", vec![("email", "ann@example.com")]),
        ("resend_verification", vec![]),
        ("begin_two_factor", vec![]),
        ("disable_two_factor", vec![("code", "123456")]),
        ("regenerate_recovery_codes", vec![]),
        ("remove_passkey", vec![("id", "1")]),
        ("rename_passkey", vec![("id", "1"), ("name", "x")]),
        ("unlink_provider", vec![("provider", "github")]),
        ("revoke_other_sessions", vec![]),
        ("reauthenticate", vec![("password", GOOD_PASSWORD)]),
        ("admin_users", vec![("query", ""), ("page", "1")]),
        ("set_role", vec![("user_id", bob_id.as_str()), ("role", "none")]),
        ("disable_user", vec![("user_id", bob_id.as_str())]),
        (
            "delete_user",
            vec![("user_id", bob_id.as_str()), ("confirm", "yes")],
        ),
        ("view_as", vec![("user_id", bob_id.as_str())]),
    ] {
        let response = app.call_with(&owner, endpoint, &fields).await;
        assert_eq!(
            message_of(response, StatusCode::FORBIDDEN).await,
            MSG_VIEWING_AS,
            "{endpoint}"
        );
    }
    for path in ["/admin", "/reauth", "/auth/github"] {
        let response = app.get_with(&owner, path).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let passkey = owner
        .post(app.url("/auth/passkey/register/options"))
        .header(header::ORIGIN, app.url(""))
        .send()
        .await
        .expect("POST");
    assert_eq!(passkey.status(), StatusCode::FORBIDDEN);
    // Nothing changed: the password, bob, the roles.
    assert_eq!(
        app.texts("SELECT password_hash FROM users WHERE username = 'ann'")
            .await,
        password_before
    );
    assert_eq!(app.role_of("bob").await, "user");
    // Pages the user sees still open.
    for path in [
        "/profile",
        "/settings/account",
        "/settings/sessions",
        "/settings/security",
    ] {
        expect_status(app.get_with(&owner, path).await, StatusCode::OK).await;
    }
    // Once stopped, the owner's own powers are back.
    expect_status(app.send(&owner, &StopViewing {}).await, StatusCode::OK).await;
    expect_status(
        app.call_with(
            &owner,
            "set_role",
            &[("user_id", bob_id.as_str()), ("role", "none")],
        )
        .await,
        StatusCode::OK,
    )
    .await;
}

async fn only_users_below_ones_own_role_may_be_viewed(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    let admin = app.user_with_role("ada", "admin").await;
    app.user_with_role("ann", "admin").await;
    let member = app.signed_up_with_new_client("bob").await;
    app.signed_up_with_new_client("carol").await;
    for (who, target, status) in [
        (&admin, "ann", StatusCode::FORBIDDEN),
        (&admin, "boss", StatusCode::FORBIDDEN),
        (&admin, "ada", StatusCode::FORBIDDEN),
        (&member, "carol", StatusCode::FORBIDDEN),
    ] {
        expect_status(view_as(&app, who, target).await, status).await;
    }
    let missing = app.send(&admin, &ViewAs { user_id: 999_999 }).await;
    expect_status(missing, StatusCode::NOT_FOUND).await;
    let signed_out = view_as(&app, &new_client(), "bob").await;
    expect_status(signed_out, StatusCode::UNAUTHORIZED).await;
    // A disabled account has nothing to view.
    let carol = app.user_id("carol").await.to_string();
    expect_status(
        app.call_with(&admin, "disable_user", &[("user_id", carol.as_str())])
            .await,
        StatusCode::OK,
    )
    .await;
    expect_status(view_as(&app, &admin, "carol").await, StatusCode::CONFLICT).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL")
            .await,
        0
    );
    // Within the rules it works: an admin views a user, an owner an admin.
    expect_status(view_as(&app, &admin, "bob").await, StatusCode::OK).await;
    expect_status(view_as(&app, &owner, "ann").await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&owner).await.as_deref(), Some("ann"));
}

async fn a_view_lives_only_beside_the_admins_session_and_never_longer(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let owner = app.user_with_role("boss", "owner").await;
    app.user_with_role("ada", "admin").await;
    app.signed_up_with_new_client("alice").await;
    let ada_token = app.signed_in_token("ada").await;
    let ada = with_cookie(&format!("gatehouse_session={ada_token}"));
    let started = view_as(&app, &ada, "alice").await;
    let (view, _) = view_cookie(&started).expect("view cookie");
    expect_status(started, StatusCode::OK).await;
    let viewing = with_cookie(&format!(
        "gatehouse_session={ada_token}; gatehouse_view_as={view}"
    ));
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("alice"));

    // The view's token alone is nothing: not in its own cookie, not as a session cookie,
    // not beside another admin's session.
    for cookie in [
        format!("gatehouse_view_as={view}"),
        format!("gatehouse_session={view}"),
        format!(
            "gatehouse_session={}; gatehouse_view_as={view}",
            app.signed_in_token("boss").await
        ),
    ] {
        let response = app.send(&with_cookie(&cookie), &CurrentUser {}).await;
        let cleared = view_cookie(&response).map(|(v, _)| v);
        let who = answer::<Option<SessionUser>>(response).await.expect("an answer");
        assert_ne!(who.map(|u| u.username).as_deref(), Some("alice"), "{cookie}");
        if cookie.contains("gatehouse_view_as") {
            assert_eq!(cleared.as_deref(), Some(""), "the stray view cookie is removed");
        }
    }
    // Still fine for the admin who started it.
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("alice"));

    // It ends by itself at its end, and is recorded.
    app.execute(&format!(
        "UPDATE sessions SET expires_at = {} WHERE impersonator_id IS NOT NULL",
        now() - 1
    ))
    .await;
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("ada"));
    assert_eq!(
        app.texts("SELECT detail FROM audit_events WHERE kind = 'impersonation_stopped'")
            .await,
        ["ran out"]
    );

    // It ends when the admin no longer outranks the user.
    let started = view_as(&app, &ada, "alice").await;
    let (view, _) = view_cookie(&started).expect("view cookie");
    expect_status(started, StatusCode::OK).await;
    let viewing = with_cookie(&format!(
        "gatehouse_session={ada_token}; gatehouse_view_as={view}"
    ));
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("alice"));
    app.execute("UPDATE users SET role = 'admin' WHERE username = 'alice'")
        .await;
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("ada"));
    app.execute("UPDATE users SET role = 'user' WHERE username = 'alice'")
        .await;

    // It ends with the admin's own session.
    let started = view_as(&app, &ada, "alice").await;
    let (view, _) = view_cookie(&started).expect("view cookie");
    expect_status(started, StatusCode::OK).await;
    let viewing = with_cookie(&format!(
        "gatehouse_session={ada_token}; gatehouse_view_as={view}"
    ));
    assert_eq!(app.signed_in_as(&viewing).await.as_deref(), Some("alice"));
    let ada = SignOutUser {
        user_id: app.user_id("ada").await,
    };
    expect_status(app.send(&owner, &ada).await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&viewing).await, None);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL")
            .await,
        0
    );
}

async fn signing_out_while_viewing_signs_the_admin_out(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("ada", "admin").await;
    let alice = app.signed_up_with_new_client("alice").await;
    expect_status(view_as(&app, &admin, "alice").await, StatusCode::OK).await;
    let out = app.send(&admin, &Logout {}).await;
    let (value, _) = view_cookie(&out).expect("the view cookie is removed");
    assert!(value.is_empty());
    expect_status(out, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&admin).await, None);
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'ada')"
        )
        .await,
        0
    );
    assert_eq!(app.signed_in_as(&alice).await.as_deref(), Some("alice"));
    assert_eq!(
        app.texts(
            "SELECT kind FROM audit_events WHERE kind IN ('impersonation_stopped', 'logout') ORDER BY id"
        )
        .await,
        ["impersonation_stopped", "logout"]
    );
}

async fn twenty_concurrent_starts_leave_one_view_and_the_admins_session(backend: Backend) {
    let Some(app) = spawn_app_with(backend, &[]).await else {
        return;
    };
    let admin = app.user_with_role("ada", "admin").await;
    app.signed_up_with_new_client("alice").await;
    let alice = ViewAs {
        user_id: app.user_id("alice").await,
    };
    let calls = (0..20).map(|_| app.send(&admin, &alice));
    for response in futures::future::join_all(calls).await {
        expect_status(response, StatusCode::OK).await;
    }
    // Each start replaced the last: one view is left, beside the admin's one session.
    // (Which cookie the browser kept depends on the order the answers arrived in: it is
    // the last view, or one already replaced, which leaves the admin as they were.)
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM sessions WHERE impersonator_id IS NOT NULL")
            .await,
        1
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM sessions WHERE user_id = (SELECT id FROM users WHERE username = 'ada')"
        )
        .await,
        1
    );
    let who = app.signed_in_as(&admin).await;
    assert!(matches!(who.as_deref(), Some("alice" | "ada")), "{who:?}");
    expect_status(app.send(&admin, &StopViewing {}).await, StatusCode::OK).await;
    assert_eq!(app.signed_in_as(&admin).await.as_deref(), Some("ada"));
}

backend_tests!(
    an_admin_views_as_a_user_and_stops_with_their_own_session_intact,
    the_view_works_without_javascript,
    credential_email_two_factor_passkey_deletion_and_admin_actions_are_refused_while_viewing,
    only_users_below_ones_own_role_may_be_viewed,
    a_view_lives_only_beside_the_admins_session_and_never_longer,
    signing_out_while_viewing_signs_the_admin_out,
    twenty_concurrent_starts_leave_one_view_and_the_admins_session,
);
