//! The test harness: a real Gatehouse router on an ephemeral port with a fresh database
//! (a SQLite file in a temporary directory, or a fresh PostgreSQL schema when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set) and a cookie-keeping client that does not
//! follow redirects.

#![allow(dead_code)]

use gatehouse::server::{config::Config, db::Db, startup, state::AppState};
use reqwest::{header, redirect::Policy, Client, Response, StatusCode};
use std::{collections::HashMap, net::SocketAddr, path::PathBuf, sync::Arc};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server tests may use, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES_URL")
        .ok()
        .filter(|v| !v.trim().is_empty())
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pub sqlite_file: Option<PathBuf>,
    schema: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database, or `None` for PostgreSQL when no server is configured.
    pub async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let file = dir.path().join("gatehouse.db");
                Some(TestDatabase {
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    backend,
                    _dir: Some(dir),
                    sqlite_file: Some(file),
                    schema: None,
                })
            }
            Backend::Postgres => {
                let base = postgres_url()?;
                let schema = format!("gh_test_{:016x}", rand_u64());
                let admin = sqlx::PgPool::connect(&base)
                    .await
                    .expect("connect to GATEHOUSE_TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE SCHEMA {schema}"))
                    .execute(&admin)
                    .await
                    .expect("create schema");
                admin.close().await;
                let separator = if base.contains('?') { '&' } else { '?' };
                Some(TestDatabase {
                    url: format!("{base}{separator}options=-csearch_path%3D{schema}"),
                    backend,
                    _dir: None,
                    sqlite_file: None,
                    schema: Some((base, schema)),
                })
            }
        }
    }
}

impl TestDatabase {
    /// The same database again, without owning (or dropping) it.
    pub fn shared(url: &str, backend: Backend) -> TestDatabase {
        TestDatabase {
            url: url.to_owned(),
            backend,
            _dir: None,
            sqlite_file: None,
            schema: None,
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((base, schema)) = self.schema.take() else {
            return;
        };
        // Drop runs outside async code: clean up on a thread with its own runtime.
        let cleanup = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async move {
                if let Ok(pool) = sqlx::PgPool::connect(&base).await {
                    let _ = sqlx::query(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                        .execute(&pool)
                        .await;
                    pool.close().await;
                }
            });
        });
        let _ = cleanup.join();
    }
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

/// A running app for one test.
pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    /// The configured public origin: what a browser on the site sends as `Origin`.
    pub origin: String,
    /// A browser-like client: keeps cookies, does not follow redirects.
    pub client: Client,
    pub state: AppState,
    pub db: Db,
    pub backend: Backend,
    pub database: TestDatabase,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

/// Configuration every test starts from; tests add or override variables.
fn base_vars(database_url: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    vars.insert("DATABASE_URL".to_owned(), database_url.to_owned());
    // Tests sign in far more often than a person would.
    vars.insert("GATEHOUSE_RATE_SIGNIN".to_owned(), "10000/1m".to_owned());
    vars.insert("GATEHOUSE_RATE_SIGNUP".to_owned(), "10000/1m".to_owned());
    vars.insert("GATEHOUSE_LOGIN_MAX_FAILURES".to_owned(), "1000".to_owned());
    // Sign-ups ask for no address unless a test says so; mail may be asked for often.
    vars.insert("GATEHOUSE_RATE_MAIL_IP".to_owned(), "10000/1m".to_owned());
    vars.insert("GATEHOUSE_RATE_MAIL_ADDRESS".to_owned(), "10000/1m".to_owned());
    // Without an SMTP server, mail goes to a directory of the test's own.
    vars.insert(
        "GATEHOUSE_MAIL_OUTBOX".to_owned(),
        std::env::temp_dir()
            .join(format!("gatehouse-test-outbox-{:016x}", rand_u64()))
            .display()
            .to_string(),
    );
    // One key for every instance of a test (PostgreSQL needs one configured).
    vars.insert("GATEHOUSE_SECRET_KEY".to_owned(), TEST_SECRET_KEY.to_owned());
    vars
}

/// Not a Gatehouse variable: a test's own site directory (static files).
pub const TEST_SITE_ROOT: &str = "TEST_SITE_ROOT";

/// Not a Gatehouse variable: the hash file of a test's site (content-hashed file names).
pub const TEST_HASH_FILE: &str = "TEST_HASH_FILE";

/// Not a Gatehouse variable: the host name the test server is reached at, with its
/// port (`localhost` for passkeys, which refuse an IP address).
pub const TEST_PUBLIC_HOST: &str = "TEST_PUBLIC_HOST";

/// The server key of test apps.
pub const TEST_SECRET_KEY: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";

/// Starts the app on `backend` with the default test configuration.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra configuration variables.
pub async fn spawn_app_with(backend: Backend, vars: &[(&str, &str)]) -> Option<TestApp> {
    spawn_app_with_routes(backend, vars, axum::Router::new()).await
}

/// Starts the app with extra configuration and extra routes mounted inside its layers.
pub async fn spawn_app_with_routes(
    backend: Backend,
    vars: &[(&str, &str)],
    extra: axum::Router<AppState>,
) -> Option<TestApp> {
    let database = TestDatabase::create(backend).await?;
    Some(start_on(database, vars, extra).await)
}

/// Starts the app on an existing test database (a restart, a second instance).
pub async fn start_on(
    database: TestDatabase,
    vars: &[(&str, &str)],
    extra: axum::Router<AppState>,
) -> TestApp {
    let backend = database.backend;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind an ephemeral port");
    let addr = listener.local_addr().expect("local address");
    let mut all = base_vars(&database.url);
    // Requests come from the address the test server really has, unless a test says otherwise.
    all.insert("GATEHOUSE_PUBLIC_URL".to_owned(), format!("http://{addr}"));
    for (k, v) in vars {
        all.insert((*k).to_owned(), (*v).to_owned());
    }
    let base = match all.get(TEST_PUBLIC_HOST) {
        Some(host) => format!("http://{host}:{}", addr.port()),
        None => format!("http://{addr}"),
    };
    if all.contains_key(TEST_PUBLIC_HOST) {
        all.insert("GATEHOUSE_PUBLIC_URL".to_owned(), base.clone());
    }
    let config = Config::from_lookup(|name| all.get(name).cloned()).expect("test configuration is valid");
    let mut options = startup::leptos_options().expect("leptos options");
    options.site_addr = addr;
    // Tests of static files give a site directory of their own.
    if let Some(root) = all.get(TEST_SITE_ROOT) {
        options.site_root = root.as_str().into();
    }
    // Plain file names, whatever the last build left beside the binaries, unless a test
    // of hashed names gives its hash file.
    options.hash_files = all.contains_key(TEST_HASH_FILE);
    if let Some(file) = all.get(TEST_HASH_FILE) {
        options.hash_file = file.as_str().into();
    }
    let state = startup::build_state(config, options).await.expect("app state");
    let router = startup::router_with(state.clone(), extra);
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let _ = startup::serve(listener, router, async move {
            let _ = rx.await;
        })
        .await;
    });
    // A public URL elsewhere (an https name, in tests of https behaviour): the app's own
    // client says it is that site (`Host`), as a browser reaching it through a proxy would.
    let public_host = state.config.public_host.clone();
    let client = if public_host == addr.ip().to_string() || all.contains_key(TEST_PUBLIC_HOST) {
        new_client()
    } else {
        client_for_host(&public_host)
    };
    TestApp {
        addr,
        base,
        origin: state.config.public_origin.clone(),
        client,
        db: state.db.clone(),
        state,
        backend,
        database,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A new browser-like client (its own cookie jar).
pub fn new_client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36")
        .build()
        .expect("http client")
}

/// A browser-like client whose requests say they are for `host` (`Host` header).
pub fn client_for_host(host: &str) -> Client {
    let mut headers = header::HeaderMap::new();
    headers.insert(
        header::HOST,
        header::HeaderValue::from_str(host).expect("a host name"),
    );
    Client::builder()
        .cookie_store(true)
        .redirect(Policy::none())
        .default_headers(headers)
        .user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36")
        .build()
        .expect("http client")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// A GET with another browser's cookies.
    pub async fn get_with(&self, client: &Client, path: &str) -> Response {
        client.get(self.url(path)).send().await.expect("GET")
    }

    /// A plain HTML form post, as a browser without JavaScript sends it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.post_form_with(&self.client, path, fields).await
    }

    pub async fn post_form_with(&self, client: &Client, path: &str, fields: &[(&str, &str)]) -> Response {
        client
            .post(self.url(path))
            .header(header::ACCEPT, "text/html,application/xhtml+xml")
            .header(header::ORIGIN, &self.origin)
            .header(header::REFERER, self.url(path_of_form(path)))
            .form(fields)
            .send()
            .await
            .expect("form POST")
    }

    /// A server function call as the app's JavaScript makes it (JSON back, real status).
    pub async fn call(&self, endpoint: &str, fields: &[(&str, &str)]) -> Response {
        self.call_with(&self.client, endpoint, fields).await
    }

    /// Calls a server function through its generated arguments struct, as a script does
    /// (JSON answer): a renamed endpoint or argument fails to compile, not at run time.
    pub async fn send<S>(&self, client: &Client, args: &S) -> Response
    where
        S: leptos::server_fn::ServerFn + serde::Serialize,
    {
        self.post_function(client, S::PATH, args).await
    }

    pub async fn call_with(&self, client: &Client, endpoint: &str, fields: &[(&str, &str)]) -> Response {
        self.post_function(client, &format!("/api/{endpoint}"), fields)
            .await
    }

    /// Posts `form` to the server function at `path` as a script does (JSON answer).
    async fn post_function<F: serde::Serialize + ?Sized>(
        &self,
        client: &Client,
        path: &str,
        form: &F,
    ) -> Response {
        client
            .post(self.url(path))
            .header(header::ACCEPT, "application/json")
            .header(header::ORIGIN, &self.origin)
            .form(form)
            .send()
            .await
            .expect("server function call")
    }

    /// Who the server says `client` is (`None`: signed out).
    pub async fn current_user(&self, client: &Client) -> Option<gatehouse::model::SessionUser> {
        let response = self.send(client, &gatehouse::api::auth::CurrentUser {}).await;
        answer::<Option<gatehouse::model::SessionUser>>(response)
            .await
            .expect("the current user")
    }

    /// The name of who the server says `client` is (`None`: signed out).
    pub async fn signed_in_as(&self, client: &Client) -> Option<String> {
        self.current_user(client).await.map(|user| user.username)
    }

    /// Stops the server, waiting for requests in flight, and hands back its database.
    pub async fn stop(mut self) -> TestDatabase {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
        self.db.close().await;
        let empty = TestDatabase {
            url: String::new(),
            backend: self.backend,
            _dir: None,
            sqlite_file: None,
            schema: None,
        };
        std::mem::replace(&mut self.database, empty)
    }

    /// Another instance of the app on the same database.
    pub async fn second_instance(&self, vars: &[(&str, &str)]) -> TestApp {
        let shared = TestDatabase {
            url: self.database.url.clone(),
            backend: self.backend,
            _dir: None,
            sqlite_file: self.database.sqlite_file.clone(),
            schema: None,
        };
        start_on(shared, vars, axum::Router::new()).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// The page a form endpoint is posted from, for the Referer header.
fn path_of_form(endpoint: &str) -> &str {
    match endpoint {
        "/api/login" => "/login",
        "/api/signup" => "/signup",
        _ => "/",
    }
}

/// The body of a response as text.
pub async fn text(response: Response) -> String {
    response.text().await.expect("response body")
}

/// The `Location` header of a redirect.
pub fn location(response: &Response) -> String {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Every `Set-Cookie` header of a response.
pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

/// Asserts a status with the body in the failure message.
pub async fn expect_status(response: Response, status: StatusCode) -> String {
    let actual = response.status();
    let body = text(response).await;
    assert_eq!(
        actual,
        status,
        "unexpected status; body:\n{}",
        body.chars().take(2000).collect::<String>()
    );
    body
}

/// Asserts a status and gives the `message` of the JSON error body (the body itself when
/// it is not one).
pub async fn message_of(response: Response, status: StatusCode) -> String {
    let body = expect_status(response, status).await;
    serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["message"].as_str().map(str::to_owned))
        .unwrap_or(body)
}

pub type Shared<T> = Arc<T>;

/// A password zxcvbn rates well, for tests that need one.
pub const GOOD_PASSWORD: &str = "correct-horse-battery-staple-42";

/// The value of the session cookie a response sets, if it sets one (blank values included).
pub fn session_cookie_value(response: &Response) -> Option<String> {
    set_cookies(response).iter().find_map(|c| {
        let (pair, _) = c.split_once(';').unwrap_or((c, ""));
        let (name, value) = pair.split_once('=')?;
        matches!(name.trim(), "gatehouse_session" | "__Host-gatehouse_session")
            .then(|| value.trim().to_owned())
    })
}

/// The whole `Set-Cookie` line of the session cookie, if the response sets it.
pub fn session_cookie_line(response: &Response) -> Option<String> {
    set_cookies(response)
        .into_iter()
        .find(|c| c.starts_with("gatehouse_session=") || c.starts_with("__Host-gatehouse_session="))
}

impl TestApp {
    /// Signs up through the JSON endpoint (as the app's JavaScript does) with `client`.
    pub async fn signup_with(&self, client: &Client, username: &str, password: &str) -> Response {
        self.call_with(
            client,
            "signup",
            &[("username", username), ("password", password)],
        )
        .await
    }

    /// Signs up `username` with [`GOOD_PASSWORD`] on the app's own client; panics unless it works.
    pub async fn signed_up(&self, username: &str) {
        let response = self.signup_with(&self.client, username, GOOD_PASSWORD).await;
        expect_status(response, StatusCode::OK).await;
    }

    /// Signs `username` up on a fresh client of its own.
    pub async fn signed_up_with_new_client(&self, username: &str) -> Client {
        let client = new_client();
        let response = self.signup_with(&client, username, GOOD_PASSWORD).await;
        expect_status(response, StatusCode::OK).await;
        client
    }

    /// Signs in through the JSON endpoint with `client`.
    pub async fn login_with(&self, client: &Client, username: &str, password: &str) -> Response {
        self.call_with(
            client,
            "login",
            &[("username", username), ("password", password), ("next", "")],
        )
        .await
    }

    /// Signs `username` in on a fresh client and gives the session token (a browser of
    /// that user, for tests that set cookies by hand).
    pub async fn signed_in_token(&self, username: &str) -> String {
        let response = self.login_with(&new_client(), username, GOOD_PASSWORD).await;
        let token = session_cookie_value(&response).filter(|t| !t.is_empty());
        token.unwrap_or_else(|| panic!("{username} could not sign in"))
    }

    /// Runs one SQL statement returning a single i64 (counts, times) on the app's database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        match &self.db {
            Db::Sqlite { pool, .. } => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
            Db::Postgres { pool } => sqlx::query_scalar(sql).fetch_one(pool).await.expect(sql),
        }
    }

    /// Runs one SQL statement for its effect (tests move clocks by editing rows).
    pub async fn execute(&self, sql: &str) {
        match &self.db {
            Db::Sqlite { pool, .. } => {
                sqlx::query(sql).execute(pool).await.expect(sql);
            }
            Db::Postgres { pool } => {
                sqlx::query(sql).execute(pool).await.expect(sql);
            }
        }
    }

    /// Moves the server's clock forward by `seconds`: how a test reaches an expiry, a
    /// renewal or the end of a window over HTTP, with no timestamp in the database
    /// rewritten. Codes a test computes from the wall clock do not move with it.
    pub fn travel(&self, seconds: u64) {
        self.state.clock.advance(std::time::Duration::from_secs(seconds));
    }

    /// The server's clock, in Unix seconds (the wall clock plus any [`TestApp::travel`]).
    pub fn now(&self) -> i64 {
        self.state.clock.now_seconds()
    }

    /// Moves every session's sign-in back by `seconds` and forgets any confirmation on
    /// `/reauth`: with more than the re-authentication window, the holder's last proof is
    /// no longer recent. (The rule itself is unit-tested at fixed moments:
    /// `identity::factors::is_recent`.)
    pub async fn age_sessions(&self, seconds: i64) {
        self.execute(&format!(
            "UPDATE sessions SET created_at = {}, reauthenticated_at = NULL",
            now() - seconds
        ))
        .await;
    }

    /// Makes every lock-out set so far last ten more minutes. The first lock is one second
    /// long, which a loaded machine can spend on a couple of password hashes: tests that
    /// go on checking a lock hold it first, so only the code under test decides when it
    /// ends.
    pub async fn hold_locks(&self) {
        self.execute(
            "UPDATE login_throttle SET locked_until_ms = locked_until_ms + 600000 WHERE locked_until_ms > 0",
        )
        .await;
    }

    /// Every text value of a column, for scanning tables for secrets.
    pub async fn texts(&self, sql: &str) -> Vec<String> {
        match &self.db {
            Db::Sqlite { pool, .. } => sqlx::query_scalar::<_, Option<String>>(sql)
                .fetch_all(pool)
                .await
                .expect(sql),
            Db::Postgres { pool } => sqlx::query_scalar::<_, Option<String>>(sql)
                .fetch_all(pool)
                .await
                .expect(sql),
        }
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A transaction of the test's own that holds rows (PostgreSQL: `pg_lock`, a locking
/// `SELECT … FOR UPDATE`) or, on SQLite, the database's write lock, until it is dropped:
/// requests sent meanwhile queue up behind it and then run as close together as the
/// database lets them — the way twenty requests at once really meet.
pub enum Hold {
    Sqlite(sqlx::Transaction<'static, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

impl TestApp {
    /// Holds writers back (see [`Hold`]); `pg_lock` names the rows on PostgreSQL.
    pub async fn hold_writes(&self, pg_lock: &str) -> Hold {
        match &self.db {
            Db::Sqlite { pool, .. } => Hold::Sqlite(pool.begin_with("BEGIN IMMEDIATE").await.expect("begin")),
            Db::Postgres { pool } => {
                let mut tx = pool.begin().await.expect("begin");
                sqlx::query(pg_lock).execute(&mut *tx).await.expect(pg_lock);
                Hold::Postgres(tx)
            }
        }
    }
}

/// A server function's answer read as the type it is: the value of a success, or the
/// error the server sent (its kind, message, field and retry delay).
pub async fn answer<T: serde::de::DeserializeOwned>(
    response: Response,
) -> Result<T, gatehouse::model::AppError> {
    let ok = response.status().is_success();
    let body = response.text().await.expect("body");
    if ok {
        Ok(serde_json::from_str(&body).unwrap_or_else(|e| panic!("not the answer's type ({e}): {body}")))
    } else {
        Err(serde_json::from_str(&body).unwrap_or_else(|e| panic!("not an error ({e}): {body}")))
    }
}

/// Unix time now, in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

impl TestApp {
    /// Signs `username` up on a fresh client, gives it `role` directly in the database,
    /// and returns that client (signed in).
    pub async fn user_with_role(&self, username: &str, role: &str) -> Client {
        let client = new_client();
        let response = self.signup_with(&client, username, GOOD_PASSWORD).await;
        expect_status(response, StatusCode::OK).await;
        let key = username.to_lowercase();
        self.execute(&format!(
            "UPDATE users SET role = '{role}' WHERE username_key = '{key}'"
        ))
        .await;
        client
    }

    /// The id of a user.
    pub async fn user_id(&self, username: &str) -> i64 {
        let key = username.to_lowercase();
        self.scalar(&format!("SELECT id FROM users WHERE username_key = '{key}'"))
            .await
    }

    /// The role of a user.
    pub async fn role_of(&self, username: &str) -> String {
        let key = username.to_lowercase();
        self.texts(&format!("SELECT role FROM users WHERE username_key = '{key}'"))
            .await
            .pop()
            .unwrap_or_default()
    }
}
