//! Roles and the admin area.

use crate::helpers::{answer, expect_status, location, new_client, text, TestApp};
use gatehouse::{
    api::admin::{AdminEvents, AdminUsers, SetRole},
    model::{AuditPage, UsersPage},
};
use reqwest::{Client, StatusCode};

async fn set_role(app: &TestApp, client: &Client, target: &str, role: &str) -> reqwest::Response {
    let args = SetRole {
        user_id: app.user_id(target).await,
        role: role.to_owned(),
    };
    app.send(client, &args).await
}

fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .map(|v| v["message"].as_str().unwrap_or(body).to_owned())
        .unwrap_or_else(|_| body.to_owned())
}

async fn the_admin_page_needs_the_admin_role(app: TestApp) {
    let member = app.user_with_role("member", "user").await;
    let page = member.get(app.url("/admin")).send().await.expect("GET");
    let body = expect_status(page, StatusCode::FORBIDDEN).await;
    assert!(body.contains("You don't have permission to view this page."));
    let admin = app.user_with_role("boss", "admin").await;
    let page = expect_status(
        admin.get(app.url("/admin")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(page.contains("data-username=\"member\""), "{page}");
    assert!(page.contains("data-testid=\"audit-table\""));
    let none = app.user_with_role("nobody", "none").await;
    let members = none.get(app.url("/members")).send().await.expect("GET");
    expect_status(members, StatusCode::FORBIDDEN).await;
}

async fn admin_server_functions_check_the_role_themselves(app: TestApp) {
    app.user_with_role("target", "user").await;
    let id = app.user_id("target").await.to_string();
    let member = app.user_with_role("member", "user").await;
    let signed_out = new_client();
    for (endpoint, fields) in [
        ("admin_users", vec![("query", ""), ("page", "1")]),
        ("set_role", vec![("user_id", id.as_str()), ("role", "admin")]),
        (
            "admin_events",
            vec![("kind", ""), ("username", ""), ("page", "1")],
        ),
    ] {
        let forbidden = app.call_with(&member, endpoint, &fields).await;
        let body = expect_status(forbidden, StatusCode::FORBIDDEN).await;
        assert_eq!(
            message(&body),
            "You don't have permission to view this page.",
            "{endpoint}"
        );
        let unauthorized = app.call_with(&signed_out, endpoint, &fields).await;
        expect_status(unauthorized, StatusCode::UNAUTHORIZED).await;
    }
    assert_eq!(app.role_of("target").await, "user", "nothing changed");
}

async fn an_admin_gives_none_and_user_to_users_below_admin_only(app: TestApp) {
    let admin = app.user_with_role("admin1", "admin").await;
    app.user_with_role("admin2", "admin").await;
    app.user_with_role("owner1", "owner").await;
    app.user_with_role("plain", "user").await;

    expect_status(set_role(&app, &admin, "plain", "none").await, StatusCode::OK).await;
    assert_eq!(app.role_of("plain").await, "none");
    let ok = expect_status(set_role(&app, &admin, "plain", "user").await, StatusCode::OK).await;
    assert_eq!(ok, "\"plain is now user.\"");

    let cases = [
        ("plain", "admin", "Admins can only give the roles none and user."),
        ("plain", "owner", "Admins can only give the roles none and user."),
        (
            "admin2",
            "user",
            "Admins can only change the roles of users below admin.",
        ),
        (
            "owner1",
            "user",
            "Admins can only change the roles of users below admin.",
        ),
        ("admin1", "user", "You can't change your own role."),
    ];
    for (target, role, expected) in cases {
        let body = expect_status(set_role(&app, &admin, target, role).await, StatusCode::FORBIDDEN).await;
        assert_eq!(message(&body), expected, "{target} → {role}");
    }
    assert_eq!(app.role_of("plain").await, "user");
    assert_eq!(app.role_of("admin2").await, "admin");
    assert_eq!(app.role_of("owner1").await, "owner");
}

async fn an_owner_gives_any_role_but_never_demotes_the_last_owner(app: TestApp) {
    let owner = app.user_with_role("owner1", "owner").await;
    app.user_with_role("someone", "user").await;
    for role in ["admin", "owner", "none", "user"] {
        expect_status(set_role(&app, &owner, "someone", role).await, StatusCode::OK).await;
        assert_eq!(app.role_of("someone").await, role);
    }
    // Alone, the owner can't step down.
    let body = expect_status(
        set_role(&app, &owner, "owner1", "admin").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        message(&body),
        "The last owner can't be demoted. Make someone else an owner first."
    );
    // With a second owner, stepping down is allowed; then the other is the last one.
    expect_status(set_role(&app, &owner, "someone", "owner").await, StatusCode::OK).await;
    expect_status(set_role(&app, &owner, "owner1", "admin").await, StatusCode::OK).await;
    assert_eq!(app.role_of("owner1").await, "admin");
    let second = new_client();
    expect_status(
        app.login_with(&second, "someone", crate::helpers::GOOD_PASSWORD)
            .await,
        StatusCode::OK,
    )
    .await;
    let body = expect_status(
        set_role(&app, &second, "someone", "user").await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(message(&body).contains("last owner"));
    // An owner demotes another owner while two exist.
    expect_status(set_role(&app, &second, "owner1", "owner").await, StatusCode::OK).await;
    expect_status(set_role(&app, &second, "owner1", "user").await, StatusCode::OK).await;
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await,
        1
    );
}

async fn concurrent_demotions_of_the_last_two_owners_leave_one_owner(app: TestApp) {
    let a = app.user_with_role("owner-a", "owner").await;
    let b = app.user_with_role("owner-b", "owner").await;
    for round in 0..5 {
        app.execute("UPDATE users SET role = 'owner' WHERE username_key IN ('owner-a', 'owner-b')")
            .await;
        // Each demotes the other, and each steps down, all at once.
        let (r1, r2, r3, r4) = tokio::join!(
            set_role(&app, &a, "owner-b", "admin"),
            set_role(&app, &b, "owner-a", "admin"),
            set_role(&app, &a, "owner-a", "user"),
            set_role(&app, &b, "owner-b", "user"),
        );
        for r in [r1, r2, r3, r4] {
            assert!(
                matches!(
                    r.status(),
                    StatusCode::OK | StatusCode::CONFLICT | StatusCode::FORBIDDEN
                ),
                "round {round}: {} {}",
                r.status(),
                text(r).await
            );
        }
        let owners = app
            .scalar("SELECT COUNT(*) FROM users WHERE role = 'owner'")
            .await;
        assert_eq!(owners, 1, "round {round}");
    }
}

async fn a_role_change_is_audited_and_applies_at_the_next_request(app: TestApp) {
    let owner = app.user_with_role("owner1", "owner").await;
    let target = app.user_with_role("rising", "user").await;
    assert_eq!(
        target.get(app.url("/admin")).send().await.expect("GET").status(),
        StatusCode::FORBIDDEN
    );
    expect_status(set_role(&app, &owner, "rising", "admin").await, StatusCode::OK).await;
    assert_eq!(
        target.get(app.url("/admin")).send().await.expect("GET").status(),
        StatusCode::OK
    );
    let owner_id = app.user_id("owner1").await;
    let target_id = app.user_id("rising").await;
    let audited = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'role_changed' AND user_id = {target_id} \
             AND actor_id = {owner_id} AND detail = 'user → admin'"
        ))
        .await;
    assert_eq!(audited, 1);
    let search = AdminEvents {
        kind: "role_changed".to_owned(),
        username: "RISING".to_owned(),
        page: 1,
    };
    let list = answer::<AuditPage>(app.send(&owner, &search).await)
        .await
        .expect("the events");
    assert_eq!(list.events.len(), 1, "{list:?}");
    assert_eq!(list.events[0].actor.as_deref(), Some("owner1"));
    assert_eq!(list.events[0].username.as_deref(), Some("rising"));
}

async fn users_are_searched_by_prefix_and_paged_in_a_stable_order(app: TestApp) {
    let admin = app.user_with_role("zz-admin", "admin").await;
    for i in 0..30 {
        app.execute(&format!(
            "INSERT INTO users (username, username_key, role, created_at, updated_at) \
             VALUES ('Bulk{i:02}', 'bulk{i:02}', 'user', 0, 0)"
        ))
        .await;
    }
    app.execute("INSERT INTO users (username, username_key, role, created_at, updated_at) VALUES ('b_x', 'b_x', 'user', 0, 0)").await;
    let page = |query: &'static str, page: i64| {
        let (app, admin) = (&app, &admin);
        async move {
            let args = AdminUsers {
                query: query.to_owned(),
                page,
                state: None,
            };
            answer::<UsersPage>(app.send(admin, &args).await)
                .await
                .expect("a page of users")
        }
    };
    let names = |page: &UsersPage| -> Vec<String> { page.users.iter().map(|u| u.username.clone()).collect() };
    let first = page("BULK", 1).await;
    assert_eq!(first.total, 30);
    let listed = names(&first);
    assert_eq!(listed.len(), 25);
    assert_eq!(listed[0], "Bulk00");
    assert_eq!(listed[24], "Bulk24");
    let second = page("bulk", 2).await;
    assert_eq!(names(&second), ["Bulk25", "Bulk26", "Bulk27", "Bulk28", "Bulk29"]);
    // Full-width letters fold like usernames do; LIKE wildcards match literally.
    assert_eq!(page("\u{FF22}ULK2", 1).await.total, 10);
    let literal = page("b_", 1).await;
    assert_eq!(literal.total, 1, "{literal:?}");
    assert_eq!(page("%", 1).await.total, 0);
}

async fn each_row_offers_only_the_roles_the_viewer_may_give(app: TestApp) {
    let admin = app.user_with_role("the-admin", "admin").await;
    app.user_with_role("other-admin", "admin").await;
    app.user_with_role("member", "user").await;
    let page = expect_status(
        admin.get(app.url("/admin")).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    let html = scraper::Html::parse_document(&page);
    let row = |name: &str| {
        let selector = scraper::Selector::parse(&format!(
            "tr[data-username=\"{name}\"] select[name=\"role\"] option"
        ))
        .expect("selector");
        html.select(&selector)
            .filter_map(|o| o.value().attr("value").map(str::to_owned))
            .collect::<Vec<_>>()
    };
    assert_eq!(row("member"), ["none", "user"]);
    assert!(row("other-admin").is_empty(), "no form for another admin");
    assert!(row("the-admin").is_empty(), "no form for oneself");
    let selected =
        scraper::Selector::parse("tr[data-username=\"member\"] option[selected]").expect("selector");
    assert_eq!(
        html.select(&selected)
            .filter_map(|o| o.value().attr("value"))
            .collect::<Vec<_>>(),
        ["user"]
    );
}

async fn role_forms_work_without_javascript(app: TestApp) {
    let admin = app.user_with_role("the-admin", "admin").await;
    app.user_with_role("member", "user").await;
    let id = app.user_id("member").await.to_string();
    let post = |role: &'static str| {
        admin
            .post(app.url("/api/set_role"))
            .header("accept", "text/html")
            .header("origin", &app.origin)
            .header("referer", app.url("/admin?q=mem"))
            .form(&[("user_id", id.as_str()), ("role", role)])
            .send()
    };
    let ok = post("none").await.expect("POST");
    assert_eq!(ok.status(), StatusCode::FOUND);
    assert_eq!(location(&ok), app.url("/admin?q=mem"));
    assert_eq!(app.role_of("member").await, "none");
    let refused = post("owner").await.expect("POST");
    assert_eq!(refused.status(), StatusCode::FOUND);
    let page = expect_status(
        admin.get(location(&refused)).send().await.expect("GET"),
        StatusCode::OK,
    )
    .await;
    assert!(
        page.contains("Admins can only give the roles none and user."),
        "{page}"
    );
    assert_eq!(app.role_of("member").await, "none");
}

async fn bad_role_requests_are_clear_errors(app: TestApp) {
    let owner = app.user_with_role("owner1", "owner").await;
    app.user_with_role("member", "user").await;
    let bad = set_role(&app, &owner, "member", "emperor").await;
    expect_status(bad, StatusCode::BAD_REQUEST).await;
    let missing = app
        .send(
            &owner,
            &SetRole {
                user_id: 999_999,
                role: "user".to_owned(),
            },
        )
        .await;
    expect_status(missing, StatusCode::NOT_FOUND).await;
    let junk = app
        .call_with(&owner, "set_role", &[("user_id", "abc"), ("role", "user")])
        .await;
    expect_status(junk, StatusCode::BAD_REQUEST).await;
    let events = app
        .call_with(
            &owner,
            "admin_events",
            &[("kind", "nonsense"), ("username", ""), ("page", "1")],
        )
        .await;
    expect_status(events, StatusCode::BAD_REQUEST).await;
}

db_tests!(
    the_admin_page_needs_the_admin_role,
    admin_server_functions_check_the_role_themselves,
    an_admin_gives_none_and_user_to_users_below_admin_only,
    an_owner_gives_any_role_but_never_demotes_the_last_owner,
    concurrent_demotions_of_the_last_two_owners_leave_one_owner,
    a_role_change_is_audited_and_applies_at_the_next_request,
    users_are_searched_by_prefix_and_paged_in_a_stable_order,
    each_row_offers_only_the_roles_the_viewer_may_give,
    role_forms_work_without_javascript,
    bad_role_requests_are_clear_errors,
);
