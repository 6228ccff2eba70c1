//! Timing of failed sign-ins. A test binary of its own, so no other test's hashing
//! competes for the CPU while it measures.

#[path = "api/helpers.rs"]
mod helpers;

use helpers::{new_client, spawn_app, Backend, TestApp};
use std::time::{Duration, Instant};

async fn unknown_users_cost_the_same_time_as_wrong_passwords(app: TestApp) {
    app.signed_up("judy").await;
    let client = new_client();
    // Warm both paths once, then interleave so machine noise hits both alike.
    app.login_with(&client, "judy", "wrong-password-1").await;
    app.login_with(&client, "nobody-judy", "wrong-password-1").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for i in 0..16 {
        let password = format!("wrong-password-{i}");
        let started = Instant::now();
        app.login_with(&client, "judy", &password).await;
        known.push(started.elapsed());
        let started = Instant::now();
        app.login_with(&client, "nobody-judy", &password).await;
        unknown.push(started.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64()
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let ratio = k / u;
    assert!(
        (0.75..=1.25).contains(&ratio),
        "wrong password {k:.4}s vs unknown user {u:.4}s (ratio {ratio:.2})"
    );
}

/// One test for both databases, run one after the other: measurements in parallel
/// would measure each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_users_cost_the_same_time_as_wrong_passwords_on_each_database() {
    let app = spawn_app(Backend::Sqlite).await.expect("app");
    unknown_users_cost_the_same_time_as_wrong_passwords(app).await;
    match spawn_app(Backend::Postgres).await {
        Some(app) => unknown_users_cost_the_same_time_as_wrong_passwords(app).await,
        None => eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped"),
    }
}
