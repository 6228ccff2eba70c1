//! `/healthz` and `/readyz`.

use crate::helpers::{expect_status, spawn_app_with, Backend, TestApp};
use reqwest::StatusCode;
use std::sync::{Arc, Mutex};
use tokio::{net::TcpListener, task::JoinHandle};

async fn healthz_answers_ok(app: TestApp) {
    let response = app.get("/healthz").await;
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body = expect_status(response, StatusCode::OK).await;
    assert_eq!(body, "ok");
}

async fn readyz_answers_ok_while_the_database_answers(app: TestApp) {
    let body = expect_status(app.get("/readyz").await, StatusCode::OK).await;
    assert_eq!(body, "ready");
}

db_tests!(healthz_answers_ok, readyz_answers_ok_while_the_database_answers);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_the_sqlite_file_is_gone_while_healthz_stays_ok() {
    let app = spawn_app_with(Backend::Sqlite, &[]).await.expect("app");
    expect_status(app.get("/readyz").await, StatusCode::OK).await;
    let file = app.database.sqlite_file.clone().expect("sqlite file");
    std::fs::remove_file(&file).expect("delete the database file");
    let body = expect_status(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        !body.contains(&file.display().to_string()),
        "no paths in answers: {body}"
    );
    expect_status(app.get("/healthz").await, StatusCode::OK).await;
}

/// A TCP forwarder between the app and PostgreSQL that the test can cut.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let port = listener.local_addr().expect("addr").port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().expect("lock").push(task);
            }
        });
        Proxy { port, tasks, accept }
    }

    /// The database server "goes away": no new connections, existing ones cut.
    fn cut(&self) {
        self.accept.abort();
        for task in self.tasks.lock().expect("lock").drain(..) {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_answers_503_when_postgresql_stops_answering() {
    let Some(base) = crate::helpers::postgres_url() else {
        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
        return;
    };
    let database = crate::helpers::TestDatabase::create(Backend::Postgres)
        .await
        .expect("database");
    let parsed = url::Url::parse(&base).expect("postgres url");
    let target = format!(
        "{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(5432)
    );
    let proxy = Proxy::start(target).await;
    let mut proxied = url::Url::parse(&database.url).expect("test database url");
    proxied.set_host(Some("127.0.0.1")).expect("host");
    proxied.set_port(Some(proxy.port)).expect("port");

    let config = gatehouse::server::config::Config::from_lookup(|name| match name {
        "DATABASE_URL" => Some(proxied.to_string()),
        "GATEHOUSE_SECRET_KEY" => Some(crate::helpers::TEST_SECRET_KEY.to_owned()),
        _ => None,
    })
    .expect("config");
    let mut options = gatehouse::server::startup::leptos_options().expect("options");
    // Plain file names: no build's hash file is beside the test binary.
    options.hash_files = false;
    let state = gatehouse::server::startup::build_state(config, options)
        .await
        .expect("state");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let router = gatehouse::server::startup::router(state);
    let server = tokio::spawn(gatehouse::server::startup::serve(
        listener,
        router,
        std::future::pending(),
    ));
    let client = crate::helpers::new_client();

    let ready = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(ready.status(), StatusCode::OK);
    proxy.cut();
    let down = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .expect("readyz");
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let live = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(live.status(), StatusCode::OK);
    server.abort();
    drop(database);
}
