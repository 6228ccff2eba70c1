//! Every accepted form of a SQLite `DATABASE_URL` works end to end. Session validation
//! reads through its own SQLite connections: they must open the very database sqlx
//! opened (or none, for an in-memory one), never another file.

use crate::helpers::{expect_status, new_client, start_on, Backend, TestApp, TestDatabase, GOOD_PASSWORD};
use reqwest::StatusCode;
use std::path::Path;

async fn app_on(url: &str) -> TestApp {
    start_on(
        TestDatabase::shared(url, Backend::Sqlite),
        &[("GATEHOUSE_SECRET_KEY", "")],
        axum::Router::new(),
    )
    .await
}

/// Signs up `name` and reads their profile back: the session written by sqlx is found by
/// the reader.
async fn sign_up_and_see_the_profile(app: &TestApp, name: &str) {
    app.signed_up(name).await;
    let page = expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert!(
        page.contains(&format!("data-testid=\"profile-username\">{name}<")),
        "{page}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_accepted_sqlite_url_signs_up_and_validates_sessions() {
    let dir = tempfile::tempdir().expect("dir");
    let at = |name: &str| dir.path().join(name).display().to_string();
    let files = [
        (format!("sqlite://{}?mode=rwc", at("a.db")), Some("a.db")),
        (format!("sqlite:{}?mode=rwc", at("b.db")), Some("b.db")),
        (format!("sqlite:file:{}?mode=rwc", at("c.db")), Some("c.db")),
    ];
    for (url, file) in &files {
        let app = app_on(url).await;
        sign_up_and_see_the_profile(&app, "alice").await;
        let file = dir.path().join(file.expect("file"));
        assert!(file.exists(), "{url}: the database is {}", file.display());
        assert!(
            key_file_of(&file).exists(),
            "{url}: its server key lives next to it"
        );
        app.stop().await;
    }
    for url in [
        "sqlite::memory:".to_owned(),
        format!("sqlite://{}?mode=memory", at("memory.db")),
    ] {
        let app = app_on(&url).await;
        sign_up_and_see_the_profile(&app, "alice").await;
        app.stop().await;
    }
    assert!(
        !dir.path().join("memory.db").exists(),
        "an in-memory database makes no file"
    );
}

fn key_file_of(database: &Path) -> std::path::PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".key");
    name.into()
}

/// An in-memory database named like a file that exists: the stale file's sessions are
/// not the server's sessions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_file_never_answers_for_an_in_memory_database() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("stale.db").display().to_string();
    let on_file = app_on(&format!("sqlite://{path}?mode=rwc")).await;
    on_file.signed_up("mallory").await;
    let token = on_file.signed_in_token("mallory").await;
    on_file.stop().await;

    let in_memory = app_on(&format!("sqlite://{path}?mode=memory")).await;
    let response = new_client()
        .get(in_memory.url("/profile"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(
        response.status(),
        StatusCode::SEE_OTHER,
        "not mallory: nobody is signed in"
    );
    let login = in_memory
        .login_with(&new_client(), "mallory", GOOD_PASSWORD)
        .await;
    assert_eq!(
        login.status(),
        StatusCode::UNAUTHORIZED,
        "mallory is not in this database"
    );
    in_memory.stop().await;
}
