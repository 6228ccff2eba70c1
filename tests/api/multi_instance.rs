//! Several Gatehouse instances on one PostgreSQL database (docs/operations.md "Deploying several
//! instances"): everything that matters lives in the database, so every instance agrees.

use crate::helpers::{
    expect_status, location, new_client, session_cookie_value, start_on, Backend, TestDatabase, GOOD_PASSWORD,
};
use reqwest::{redirect::Policy, Client, StatusCode};

fn bare() -> Client {
    Client::builder()
        .redirect(Policy::none())
        .build()
        .expect("client")
}

async fn get_with_token(base: &str, path: &str, token: &str) -> reqwest::Response {
    bare()
        .get(format!("{base}{path}"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_one_postgresql_database_agree_on_everything() {
    if crate::helpers::postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
        return;
    }
    // Both start together on a fresh database: the migrations must not race.
    let database = TestDatabase::create(Backend::Postgres).await.expect("database");
    let shared = TestDatabase::shared(&database.url, Backend::Postgres);
    let vars = [("GATEHOUSE_LOGIN_MAX_FAILURES", "3")];
    let (a, b) = tokio::join!(
        start_on(database, &vars, axum::Router::new()),
        start_on(shared, &vars, axum::Router::new())
    );

    // Sign up on A; the same cookie is signed in on B.
    let signup = a.signup_with(&new_client(), "alice", GOOD_PASSWORD).await;
    let token = session_cookie_value(&signup).expect("cookie");
    expect_status(signup, StatusCode::OK).await;
    let on_b = expect_status(get_with_token(&b.base, "/profile", &token).await, StatusCode::OK).await;
    assert!(on_b.contains("data-testid=\"profile-username\">alice<"));

    // A role change made on A applies on B at the next request.
    let owner = a.user_with_role("owner", "owner").await;
    assert_eq!(
        get_with_token(&b.base, "/admin", &token).await.status(),
        StatusCode::FORBIDDEN
    );
    let id = a.user_id("alice").await.to_string();
    expect_status(
        a.call_with(&owner, "set_role", &[("user_id", &id), ("role", "admin")])
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        get_with_token(&b.base, "/admin", &token).await.status(),
        StatusCode::OK
    );

    // Failures on both instances count towards one lock, seen by both.
    for app in [&a, &b, &a] {
        assert_eq!(
            app.login_with(&new_client(), "alice", "wrong-password")
                .await
                .status(),
            StatusCode::UNAUTHORIZED
        );
    }
    a.hold_locks().await;
    assert_eq!(
        b.login_with(&new_client(), "alice", GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        a.login_with(&new_client(), "alice", GOOD_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    // Sign out on B; A refuses the cookie from then on.
    let logout = bare()
        .post(format!("{}/api/logout", b.base))
        .header("cookie", format!("gatehouse_session={token}"))
        .header("origin", &b.origin)
        .header("accept", "application/json")
        .send()
        .await
        .expect("POST");
    expect_status(logout, StatusCode::OK).await;
    let refused = get_with_token(&a.base, "/profile", &token).await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&refused), "/login?next=/profile");
    drop(b);
}
