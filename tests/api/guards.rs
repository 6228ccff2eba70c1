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
