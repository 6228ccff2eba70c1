//! Route guards and the `next` parameter.

use crate::helpers::{
    expect_status, location, new_client, spawn_app_with_routes, Backend, TestApp, GOOD_PASSWORD,
};
use reqwest::StatusCode;

const GUARDED: [&str; 5] = [
    "/profile",
    "/members",
    "/admin",
    "/settings/account",
    "/settings/sessions",
];

async fn signed_out_visitors_of_guarded_pages_are_sent_to_sign_in_by_the_server(app: TestApp) {
    for path in GUARDED {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), format!("/login?next={path}"), "{path}");
        assert_eq!(
            response.headers()["x-frame-options"],
            "DENY",
            "{path}: headers on redirects"
        );
    }
    let response = app.get("/admin?page=2&q=a").await;
    assert_eq!(location(&response), "/login?next=/admin%3Fpage%3D2%26q%3Da");
}

async fn signed_in_visitors_of_the_sign_in_and_sign_up_pages_go_to_their_profile(app: TestApp) {
    app.signed_up("alice").await;
    for path in ["/login", "/signup", "/login?next=/members"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/profile");
    }
}

async fn the_sign_in_page_carries_next_in_a_hidden_field(app: TestApp) {
    let page = expect_status(app.get("/login?next=/members").await, StatusCode::OK).await;
    assert!(
        page.contains("type=\"hidden\" name=\"next\" value=\"/members\""),
        "{page}"
    );
    // `webauthn`: browsers offer passkeys in the username field's autofill.
    assert!(
        page.contains("autocomplete=\"username webauthn\"")
            && page.contains("autocomplete=\"current-password\"")
    );
    assert!(page.contains("<label for=\"field-username\""), "labelled inputs");
    let signup = expect_status(app.get("/signup").await, StatusCode::OK).await;
    assert!(signup.contains("autocomplete=\"new-password\""), "{signup}");
}

async fn next_is_followed_only_to_local_paths(app: TestApp) {
    app.signed_up("alice").await;
    let cases = [
        ("/members", "/members"),
        ("/settings/sessions?x=1", "/settings/sessions?x=1"),
        ("%2Fmembers", "/members"),
        ("//evil.example", "/profile"),
        ("/\\evil.example", "/profile"),
        ("https://evil.example", "/profile"),
        ("http:evil.example", "/profile"),
        ("%2F%2Fevil.example", "/profile"),
        ("%2F%5Cevil.example", "/profile"),
        ("/%0d%0aLocation:%20https://evil.example", "/profile"),
        ("/\tevil", "/profile"),
        ("javascript:alert(1)", "/profile"),
        ("", "/profile"),
    ];
    for (next, expected) in cases {
        let browser = new_client();
        let response = app
            .post_form_with(
                &browser,
                "/api/login",
                &[("username", "alice"), ("password", GOOD_PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(location(&response), expected, "{next:?}");
    }
}

/// "Create an account" from a sign-in page that was sent to by a guarded page keeps
/// where the visitor was going: the sign-up page carries it (to its form, its provider
/// buttons and its link back), and the new account lands there, with and without
/// JavaScript. Only local paths, as for signing in.
async fn signing_up_keeps_where_the_visitor_was_going(app: TestApp) {
    let login = expect_status(app.get("/login?next=/members").await, StatusCode::OK).await;
    assert!(login.contains("href=\"/signup?next=/members\""), "{login}");
    let page = expect_status(app.get("/signup?next=%2Fmembers").await, StatusCode::OK).await;
    assert!(
        page.contains("type=\"hidden\" name=\"next\" value=\"/members\""),
        "{page}"
    );
    assert!(page.contains("href=\"/login?next=/members\""), "{page}");

    let cases = [
        ("ann", "/members", "/members"),
        ("bea", "//evil.example", "/profile"),
        ("cyd", "", "/profile"),
    ];
    for (name, next, expected) in cases {
        let response = app
            .post_form_with(
                &new_client(),
                "/api/signup",
                &[("username", name), ("password", GOOD_PASSWORD), ("next", next)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::FOUND, "{next:?}");
        assert_eq!(location(&response), expected, "{next:?}");
    }
    let with_js = app
        .client
        .post(app.url("/api/signup"))
        .header("accept", "application/json")
        .header("origin", &app.origin)
        .form(&[
            ("username", "dee"),
            ("password", GOOD_PASSWORD),
            ("next", "/members"),
        ])
        .send()
        .await
        .expect("POST");
    let body = expect_status(with_js, StatusCode::OK).await;
    assert_eq!(body, "\"/members\"");
}

/// `/settings` is no page of its own: it leads to the first settings page (and from there,
/// signed out, to the sign-in page). Other unlisted paths below it stay the 404 page.
async fn settings_leads_to_the_account_settings(app: TestApp) {
    for path in ["/settings", "/settings/"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&response), "/settings/account", "{path}");
    }
    assert_eq!(
        location(&app.get("/settings/account").await),
        "/login?next=/settings/account"
    );
    app.signed_up("alice").await;
    assert_eq!(location(&app.get("/settings").await), "/settings/account");
    expect_status(app.get("/settings/nothing").await, StatusCode::NOT_FOUND).await;
    // A form posted to it is not redirected.
    let posted = app
        .client
        .post(app.url("/settings"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("POST");
    assert_eq!(posted.status(), StatusCode::NOT_FOUND);
}

/// After deleting an account, the home page says so (`/?done=deleted`).
async fn the_home_page_confirms_a_deleted_account(app: TestApp) {
    let page = expect_status(app.get("/?done=deleted").await, StatusCode::OK)
        .await
        .replace("<!>", "");
    assert!(
        page.contains("data-testid=\"done\"")
            && page.contains(">Your account was deleted, and you are signed out.</p>"),
        "{page}"
    );
    let plain = expect_status(app.get("/").await, StatusCode::OK).await;
    assert!(!plain.contains("data-testid=\"done\""));
    let other = expect_status(app.get("/?done=anything").await, StatusCode::OK).await;
    assert!(!other.contains("data-testid=\"done\""));
}

async fn a_role_too_low_gets_the_403_page_with_status_403(app: TestApp) {
    app.signed_up("alice").await;
    app.execute("UPDATE users SET role = 'none' WHERE username_key = 'alice'")
        .await;
    let body = expect_status(app.get("/members").await, StatusCode::FORBIDDEN).await;
    assert!(body.contains("You don't have permission to view this page."));
    expect_status(app.get("/profile").await, StatusCode::OK).await;
}

db_tests!(
    signed_out_visitors_of_guarded_pages_are_sent_to_sign_in_by_the_server,
    signed_in_visitors_of_the_sign_in_and_sign_up_pages_go_to_their_profile,
    the_sign_in_page_carries_next_in_a_hidden_field,
    next_is_followed_only_to_local_paths,
    signing_up_keeps_where_the_visitor_was_going,
    settings_leads_to_the_account_settings,
    the_home_page_confirms_a_deleted_account,
    a_role_too_low_gets_the_403_page_with_status_403,
);

/// A handler mounted under a guarded area but forgotten in the page table is never
/// reached: the 404 page for everyone (an owner included), for every method. Outside
/// the guarded areas the router decides as usual.
async fn a_route_under_a_guarded_area_without_a_page_table_entry_is_refused(backend: Backend) {
    let reached = || async { "the handler ran" };
    let extra = axum::Router::new()
        .route("/admin/reports", axum::routing::get(reached).post(reached))
        .route("/settings/billing", axum::routing::get(reached))
        .route("/open/report", axum::routing::get(reached));
    let Some(app) = spawn_app_with_routes(backend, &[], extra).await else {
        return;
    };
    for path in ["/admin/reports", "/settings/billing"] {
        let body = expect_status(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert!(!body.contains("the handler ran"), "{path} signed out: {body}");
    }
    let owner = app.user_with_role("olivia", "owner").await;
    for path in ["/admin/reports", "/settings/billing"] {
        let response = owner.get(app.url(path)).send().await.expect("GET");
        let body = expect_status(response, StatusCode::NOT_FOUND).await;
        assert!(!body.contains("the handler ran"), "{path}: {body}");
    }
    let response = owner
        .post(app.url("/admin/reports"))
        .header("origin", &app.origin)
        .send()
        .await
        .expect("POST");
    let body = expect_status(response, StatusCode::NOT_FOUND).await;
    assert!(!body.contains("the handler ran"), "{body}");
    let open = expect_status(app.get("/open/report").await, StatusCode::OK).await;
    assert_eq!(
        open, "the handler ran",
        "outside the guarded areas the router decides"
    );
}

mod unlisted {
    use super::*;
    backend_tests!(a_route_under_a_guarded_area_without_a_page_table_entry_is_refused);
}
