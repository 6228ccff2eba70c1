//! The `gatehouse` binary: help, configuration errors, `migrate`, `serve` (logging and
//! graceful shutdown).

use crate::helpers::{Backend, TestDatabase};
use std::{
    io::{Read, Write},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_gatehouse");

/// The binary with a clean environment: only what the test passes.
fn gatehouse(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    // Run from a directory without a .env file.
    cmd.current_dir(std::env::temp_dir());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

fn run(args: &[&str], vars: &[(&str, &str)]) -> Output {
    gatehouse(args, vars).output().expect("run gatehouse")
}

#[test]
fn help_describes_every_command() {
    let out = run(&["--help"], &[]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("serve") && help.contains("migrate"), "{help}");
    assert!(help.contains("user") && help.contains("sessions"), "{help}");
    for command in ["serve", "migrate", "user", "sessions"] {
        let out = run(&[command, "--help"], &[]);
        assert!(out.status.success(), "{command} --help");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn an_unknown_command_is_refused_with_a_non_zero_exit() {
    let out = run(&["frobnicate"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("frobnicate"));
}

#[test]
fn bad_configuration_stops_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    for (variable, value) in [
        ("GATEHOUSE_SESSION_TTL", "a fortnight"),
        ("GATEHOUSE_PUBLIC_URL", "not a url"),
        ("GATEHOUSE_DEFAULT_ROLE", "owner"),
        ("GATEHOUSE_RATE_SIGNIN", "lots"),
        ("DATABASE_URL", "mysql://localhost/db"),
    ] {
        let out = run(&["migrate"], &[("DATABASE_URL", &db), (variable, value)]);
        assert_eq!(out.status.code(), Some(2), "{variable}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{variable}: one line: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
    assert!(!dir.path().join("x.db").exists(), "nothing was created");
}

#[test]
fn an_unreachable_database_is_one_clear_line_and_a_failure() {
    let out = run(
        &["migrate"],
        &[("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("could not connect to PostgreSQL"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[test]
fn migrate_creates_the_sqlite_database_and_can_run_again() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("fresh.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    for _ in 0..2 {
        let out = run(&["migrate"], &[("DATABASE_URL", &url)]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stdout).contains("migrations applied (sqlite)"));
    }
    assert!(file.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_migrating_postgresql_at_once_both_succeed_and_apply_each_migration_once() {
    if crate::helpers::postgres_url().is_none() {
        eprintln!("GATEHOUSE_TEST_POSTGRES_URL is not set: PostgreSQL run skipped");
        return;
    }
    let database = TestDatabase::create(Backend::Postgres).await.expect("database");
    let children: Vec<_> = (0..2)
        .map(|_| {
            gatehouse(&["migrate"], &[("DATABASE_URL", &database.url)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().expect("wait");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let pool = sqlx::PgPool::connect(&database.url).await.expect("connect");
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("count");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/postgres"))
        .expect("dir")
        .count();
    assert_eq!(applied, i64::try_from(files).expect("small"));
    pool.close().await;
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `gatehouse serve` on a fresh SQLite file with `vars` added; answers the child, the
/// database URL and the address once `/healthz` answers.
async fn start_serving(
    dir: &std::path::Path,
    vars: &[(&str, &str)],
) -> (std::process::Child, String, String) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("serve.db").display());
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let public = format!("http://{addr}");
    let mut all = vec![
        ("DATABASE_URL", url.as_str()),
        ("LEPTOS_SITE_ADDR", addr.as_str()),
        ("GATEHOUSE_PUBLIC_URL", public.as_str()),
        ("RUST_LOG", "info"),
    ];
    all.extend_from_slice(vars);
    let child = gatehouse(&["serve"], &all)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let client = crate::helpers::new_client();
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(format!("http://{addr}/healthz")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, url, addr)
}

/// Stops a server with SIGTERM, checks it exits cleanly, and answers its stdout and
/// stderr.
async fn stop_serving(mut child: std::process::Child) -> (String, String) {
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "server did not stop after SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .expect("read");
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("read");
    (out, err)
}

/// Drops the sessions table under a running server and makes a request that fails;
/// answers the request id the failure page shows.
async fn failing_request(url: &str, addr: &str, token: &str) -> String {
    let pool = sqlx::SqlitePool::connect(url).await.expect("connect");
    sqlx::query("DROP TABLE sessions")
        .execute(&pool)
        .await
        .expect("drop");
    pool.close().await;
    let response = crate::helpers::new_client()
        .get(format!("http://{addr}/"))
        .header("cookie", format!("gatehouse_session={token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(response.status(), 500);
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body = response.text().await.expect("body");
    assert!(body.contains(&id), "the page shows the request id");
    assert!(
        !body.to_lowercase().contains("no such table"),
        "no database text on the page: {body}"
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_logs_the_request_id_of_a_failure_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let (child, url, addr) = start_serving(dir.path(), &[]).await;
    // Break the database under the running server: validating any session now fails.
    let token = "a".repeat(40);
    let id = failing_request(&url, &addr, &token).await;
    let (out, err) = stop_serving(child).await;
    let log = out + &err;
    assert!(log.contains(&id), "the log names request {id}:\n{log}");
    assert!(log.contains("no such table"), "the log keeps the cause:\n{log}");
    assert!(!log.contains(&token), "the token never reaches the log");
    assert!(
        log.contains("passkeys are off: WebAuthn needs a domain name"),
        "an IP-address public URL says why passkeys are off:\n{log}"
    );
}

/// An https site with no SMTP server says at start-up, as an error, that nobody gets
/// mail; the messages it writes to the outbox are the server user's alone, and no link
/// from them reaches the log (a link in a log is a credential in a log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_site_without_smtp_says_so_and_logs_no_links() {
    let dir = tempfile::tempdir().expect("dir");
    let outbox = dir.path().join("outbox");
    let outbox_var = outbox.display().to_string();
    let vars = [
        ("GATEHOUSE_PUBLIC_URL", "https://auth.example.com"),
        ("GATEHOUSE_MAIL_OUTBOX", outbox_var.as_str()),
    ];
    let (child, _url, addr) = start_serving(dir.path(), &vars).await;
    let response = crate::helpers::new_client()
        .post(format!("http://{addr}/api/signup"))
        .header("accept", "application/json")
        .header("origin", "https://auth.example.com")
        .form(&[
            ("username", "ada"),
            ("password", crate::helpers::GOOD_PASSWORD),
            ("email", "ada@example.com"),
        ])
        .send()
        .await
        .expect("sign up");
    assert_eq!(response.status(), 200);
    let mut files = Vec::new();
    for _ in 0..100 {
        files = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        if files.iter().any(|f| f.extension().is_some_and(|e| e == "eml")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let message = files
        .iter()
        .find(|f| f.extension().is_some_and(|e| e == "eml"))
        .expect("the message in the outbox");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(message).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the message file is private");
        let mode = std::fs::metadata(&outbox).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o700, "the outbox is private");
    }
    let eml = std::fs::read_to_string(message).expect("read");
    let token = eml
        .split("token=")
        .nth(1)
        .map(|t| {
            t.chars()
                .take_while(char::is_ascii_alphanumeric)
                .collect::<String>()
        })
        .expect("a link in the message");
    let (out, err) = stop_serving(child).await;
    let log = out + &err;
    assert!(log.contains("NO MAIL IS SENT"), "{log}");
    assert!(log.contains("ERROR"), "said as an error:\n{log}");
    assert!(!log.contains(&token), "the link is not logged:\n{log}");
    assert!(log.contains("its link is not logged"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line_with_the_request_id() {
    let dir = tempfile::tempdir().expect("dir");
    let (child, url, addr) = start_serving(dir.path(), &[("GATEHOUSE_LOG_FORMAT", "json")]).await;
    let id = failing_request(&url, &addr, &"b".repeat(40)).await;
    let (out, _) = stop_serving(child).await;
    let lines: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(lines.len() >= 3, "{out}");
    assert!(lines
        .iter()
        .all(|l| l["timestamp"].is_string() && l["level"].is_string() && l["fields"].is_object()));
    // The failure is logged inside its request's span, which carries the id.
    let failure = lines
        .iter()
        .find(|l| l["span"]["id"] == id.as_str() && l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("an error line with request id {id}:\n{out}"));
    assert!(failure.to_string().contains("no such table"), "{failure}");
}

/// Runs the binary on `database` with `stdin` piped in.
fn run_with_input(database: &TestDatabase, args: &[&str], stdin: &str) -> Output {
    let mut child = gatehouse(args, &[("DATABASE_URL", &database.url)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn assert_one_line_failure(out: &Output, expected: &str) {
    assert!(
        !out.status.success(),
        "should fail: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(expected), "{expected:?} in {stderr}");
}

async fn count(database: &TestDatabase, sql: &str) -> i64 {
    let db = gatehouse::server::db::Db::connect(&database.url)
        .await
        .expect("connect");
    let n = match &db {
        gatehouse::server::db::Db::Sqlite { pool, .. } => sqlx::query_scalar(sql).fetch_one(pool).await,
        gatehouse::server::db::Db::Postgres { pool } => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
    .expect(sql);
    db.close().await;
    n
}

async fn the_first_owner_is_created_on_the_command_line_and_can_sign_in(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    let out = run_with_input(
        &database,
        &["user", "create", "--username", "Root-Owner", "--role", "owner"],
        "correct-horse-battery-staple-42\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user Root-Owner"));
    let app = crate::helpers::start_on(database, &[], axum::Router::new()).await;
    let login = app
        .login_with(&app.client, "root-owner", "correct-horse-battery-staple-42")
        .await;
    assert_eq!(login.status(), 200);
    assert_eq!(app.role_of("root-owner").await, "owner");
    assert_eq!(app.get("/admin").await.status(), 200);
    let audited = app
        .scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'signup' AND detail LIKE '%command line%'")
        .await;
    assert_eq!(audited, 1);
}

async fn bad_input_to_user_create_writes_nothing(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    let good = "correct-horse-battery-staple-42\n";
    assert!(run_with_input(
        &database,
        &["user", "create", "--username", "taken", "--role", "user"],
        good
    )
    .status
    .success());
    let cases: [(&[&str], &str, &str); 6] = [
        (
            &["user", "create", "--username", "x", "--role", "user"],
            good,
            "invalid username",
        ),
        (
            &["user", "create", "--username", "fine-name", "--role", "emperor"],
            good,
            "unknown role",
        ),
        (
            &["user", "create", "--username", "fine-name", "--role", "user"],
            "password\n",
            "password refused",
        ),
        (
            &["user", "create", "--username", "fine-name", "--role", "user"],
            "",
            "no password on standard input",
        ),
        (
            &["user", "create", "--username", "fine-name", "--role", "user"],
            "short\n",
            "at least 8 characters",
        ),
        (
            &["user", "create", "--username", "TAKEN", "--role", "user"],
            good,
            "That username is taken",
        ),
    ];
    for (args, stdin, expected) in cases {
        let out = run_with_input(&database, args, stdin);
        assert_one_line_failure(&out, expected);
    }
    assert_eq!(count(&database, "SELECT COUNT(*) FROM users").await, 1);
    assert!(!String::from_utf8_lossy(
        &run_with_input(
            &database,
            &["user", "create", "--username", "y", "--role", "user"],
            "hunter2-secret-words\n"
        )
        .stderr
    )
    .contains("hunter2"));
}

async fn set_role_changes_a_role_and_keeps_the_last_owner(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    let good = "correct-horse-battery-staple-42\n";
    assert!(run_with_input(
        &database,
        &["user", "create", "--username", "boss", "--role", "owner"],
        good
    )
    .status
    .success());
    assert!(run_with_input(
        &database,
        &["user", "create", "--username", "worker", "--role", "user"],
        good
    )
    .status
    .success());
    let out = run_with_input(&database, &["user", "set-role", "worker", "admin"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("worker: user → admin"));
    assert_one_line_failure(
        &run_with_input(&database, &["user", "set-role", "boss", "admin"], ""),
        "last owner",
    );
    assert_one_line_failure(
        &run_with_input(&database, &["user", "set-role", "ghost", "admin"], ""),
        "there is no user",
    );
    assert_one_line_failure(
        &run_with_input(&database, &["user", "set-role", "worker", "king"], ""),
        "unknown role",
    );
    assert_eq!(
        count(&database, "SELECT COUNT(*) FROM users WHERE role = 'admin'").await,
        1
    );
    assert_eq!(
        count(&database, "SELECT COUNT(*) FROM users WHERE role = 'owner'").await,
        1
    );
    assert_eq!(
        count(
            &database,
            "SELECT COUNT(*) FROM audit_events WHERE kind = 'role_changed'"
        )
        .await,
        1
    );
}

async fn set_password_replaces_the_password_and_signs_the_user_out_everywhere(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    assert!(run_with_input(
        &database,
        &["user", "create", "--username", "forgetful", "--role", "user"],
        "correct-horse-battery-staple-42\n"
    )
    .status
    .success());
    let app = crate::helpers::start_on(database, &[], axum::Router::new()).await;
    let browsers = [crate::helpers::new_client(), crate::helpers::new_client()];
    for browser in &browsers {
        assert_eq!(
            app.login_with(browser, "forgetful", "correct-horse-battery-staple-42")
                .await
                .status(),
            200
        );
    }
    let url = app.database.url.clone();
    let shared = TestDatabase::shared(&url, backend);
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "set-password", "forgetful"], "123\n"),
        "password refused",
    );
    let out = run_with_input(
        &shared,
        &["user", "set-password", "forgetful"],
        "an-entirely-new-passphrase-7\n",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 sessions signed out"));
    for browser in &browsers {
        assert_eq!(
            browser
                .get(app.url("/profile"))
                .send()
                .await
                .expect("GET")
                .status(),
            303
        );
    }
    assert_eq!(
        app.login_with(
            &crate::helpers::new_client(),
            "forgetful",
            "correct-horse-battery-staple-42"
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        app.login_with(
            &crate::helpers::new_client(),
            "forgetful",
            "an-entirely-new-passphrase-7"
        )
        .await
        .status(),
        200
    );
}

/// Fails three times for `name` (the apps here allow three): locked.
async fn lock(app: &crate::helpers::TestApp, name: &str, password: &str) {
    for _ in 0..3 {
        app.login_with(&crate::helpers::new_client(), name, "guess-1234")
            .await;
    }
    app.hold_locks().await;
    assert_eq!(
        app.login_with(&crate::helpers::new_client(), name, password)
            .await
            .status(),
        429
    );
}

async fn unlock_and_set_password_lift_a_lock_out(backend: Backend) {
    let app = crate::helpers::spawn_app_with(backend, &[("GATEHOUSE_LOGIN_MAX_FAILURES", "3")])
        .await
        .expect("app");
    app.signed_up("alice").await;
    let good = crate::helpers::GOOD_PASSWORD;
    lock(&app, "alice", good).await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(&shared, &["user", "unlock", "alice"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alice can sign in again."
    );
    assert_eq!(
        app.login_with(&crate::helpers::new_client(), "alice", good)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'unlocked' AND actor_id IS NULL")
            .await,
        1
    );

    lock(&app, "alice", good).await;
    let fresh = "an-entirely-new-passphrase-7";
    let out = run_with_input(&shared, &["user", "set-password", "alice"], &format!("{fresh}\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        app.login_with(&crate::helpers::new_client(), "alice", fresh)
            .await
            .status(),
        200
    );

    assert_one_line_failure(
        &run_with_input(&shared, &["user", "unlock", "ghost"], ""),
        "there is no user",
    );
}

async fn reset_2fa_removes_the_factor_and_signs_the_user_out(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.signed_up("alice").await;
    crate::two_factor::enable(&app, &app.client).await;
    assert_eq!(app.scalar("SELECT COUNT(*) FROM totp_factors").await, 1);
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(&shared, &["user", "reset-2fa", "alice"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "two-factor sign-in removed for alice; signed out everywhere"
    );
    for table in ["totp_factors", "recovery_codes", "sessions"] {
        assert_eq!(
            app.scalar(&format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table}"
        );
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'mfa_reset'")
            .await,
        1
    );
    let signed_in = app
        .login_with(
            &crate::helpers::new_client(),
            "alice",
            crate::helpers::GOOD_PASSWORD,
        )
        .await;
    assert!(
        crate::helpers::session_cookie_value(&signed_in).is_some(),
        "the password alone signs in again"
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "reset-2fa", "ghost"], ""),
        "there is no user",
    );
}

async fn set_email_sets_an_address_verified_or_not(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.signed_up("alice").await;
    app.signed_up_with_new_client("bob").await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(
        &shared,
        &["user", "set-email", "alice", "Alice@Example.com", "--verified"],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "e-mail address of alice set to Alice@Example.com (verified)"
    );
    assert_eq!(
        app.scalar(
            "SELECT COUNT(*) FROM users WHERE username = 'alice' AND email = 'Alice@Example.com' \
             AND email_key = 'alice@example.com' AND email_verified_at IS NOT NULL"
        )
        .await,
        1
    );
    let out = run_with_input(&shared, &["user", "set-email", "bob", "bob@example.com"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'bob' AND email_verified_at IS NULL AND email IS NOT NULL")
            .await,
        1
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "set-email", "bob", "ALICE@example.com"], ""),
        "used by another account",
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "set-email", "bob", "not an address"], ""),
        "address refused",
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "set-email", "ghost", "g@example.com"], ""),
        "there is no user",
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_events WHERE kind = 'email_changed'")
            .await,
        2
    );
}

async fn list_delete_and_sign_out_on_the_command_line(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.user_with_role("boss", "owner").await;
    let alice = app.signed_up_with_new_client("alice").await;
    app.signed_up_with_new_client("bob").await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(&shared, &["user", "list"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout).to_string();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("USERNAME"), "{table}");
    assert!(
        lines[1].starts_with("alice ") && lines[2].starts_with("bob ") && lines[3].starts_with("boss "),
        "{table}"
    );
    let out = run_with_input(&shared, &["user", "list", "--role", "owner", "--json"], "");
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["username"], "boss");
    assert_eq!(listed[0]["role"], "owner");
    assert_eq!(listed[0]["disabled"], false);
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "list", "--role", "emperor"], ""),
        "role",
    );

    let out = run_with_input(&shared, &["user", "sign-out", "alice"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alice signed out everywhere; 1 session ended"
    );
    let current = app
        .call_with(&alice, "current_user", &[])
        .await
        .text()
        .await
        .expect("body");
    assert_eq!(current, "null");

    let out = run_with_input(&shared, &["user", "delete", "bob"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "deleted bob");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM users WHERE username = 'bob'")
            .await,
        0
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "delete", "boss"], ""),
        "last owner",
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "delete", "ghost"], ""),
        "there is no user",
    );
    assert_one_line_failure(
        &run_with_input(&shared, &["user", "sign-out", "ghost"], ""),
        "there is no user",
    );
}

async fn disable_and_enable_on_the_command_line(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.signed_up("alice").await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(
        &shared,
        &[
            "user",
            "disable",
            "alice",
            "--reason",
            "chargeback",
            "--until",
            "2999-01-31T18:00",
        ],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alice is disabled until 2999-01-31 18:00 UTC; 1 session ended"
    );
    let refused = app
        .login_with(
            &crate::helpers::new_client(),
            "alice",
            crate::helpers::GOOD_PASSWORD,
        )
        .await;
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    assert_eq!(
        app.texts("SELECT detail FROM audit_events WHERE kind = 'account_disabled'")
            .await,
        ["until 2999-01-31 18:00 UTC: chargeback (by the command line)"]
    );
    for (args, expected) in [
        (
            vec!["user", "disable", "alice", "--until", "last week"],
            "--until refused",
        ),
        (vec!["user", "disable", "ghost"], "there is no user"),
        (vec!["user", "enable", "ghost"], "there is no user"),
    ] {
        assert_one_line_failure(&run_with_input(&shared, &args, ""), expected);
    }
    let out = run_with_input(&shared, &["user", "enable", "alice"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "alice can sign in again"
    );
    let signed_in = app
        .login_with(
            &crate::helpers::new_client(),
            "alice",
            crate::helpers::GOOD_PASSWORD,
        )
        .await;
    assert_eq!(signed_in.status(), reqwest::StatusCode::OK);
}

async fn sessions_purge_deletes_expired_sessions(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.signed_up("alice").await;
    app.signed_up_with_new_client("bob").await;
    app.execute("UPDATE sessions SET expires_at = 1 WHERE user_id = (SELECT id FROM users WHERE username_key = 'alice')").await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(&shared, &["sessions", "purge"], "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "1 expired sessions deleted"
    );
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 1);
}

backend_tests!(
    list_delete_and_sign_out_on_the_command_line,
    disable_and_enable_on_the_command_line,
    set_email_sets_an_address_verified_or_not,
    reset_2fa_removes_the_factor_and_signs_the_user_out,
    unlock_and_set_password_lift_a_lock_out,
    the_first_owner_is_created_on_the_command_line_and_can_sign_in,
    bad_input_to_user_create_writes_nothing,
    set_role_changes_a_role_and_keeps_the_last_owner,
    set_password_replaces_the_password_and_signs_the_user_out_everywhere,
    sessions_purge_deletes_expired_sessions,
);

async fn sessions_seed_fills_the_table_with_unusable_sessions(backend: Backend) {
    let app = crate::helpers::spawn_app(backend).await.expect("app");
    app.signed_up("loaded").await;
    let shared = TestDatabase::shared(&app.database.url, backend);
    let out = run_with_input(
        &shared,
        // More than one multi-row statement, the last one partly filled.
        &["sessions", "seed", "--username", "loaded", "--count", "9500"],
        "",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    if let Some(file) = &app.database.sqlite_file {
        let wal = std::path::PathBuf::from(format!("{}-wal", file.display()));
        let wal_bytes = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert_eq!(
            wal_bytes, 0,
            "seeding leaves the rows in the database file, not the log"
        );
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM sessions").await, 9501);
    expect_ok_profile(&app).await;
    assert_one_line_failure(
        &run_with_input(
            &shared,
            &["sessions", "seed", "--username", "nobody", "--count", "5"],
            "",
        ),
        "there is no user",
    );
}

async fn expect_ok_profile(app: &crate::helpers::TestApp) {
    assert_eq!(
        app.get("/profile").await.status(),
        200,
        "the real session still works"
    );
}

mod seeding {
    use super::*;
    backend_tests!(sessions_seed_fills_the_table_with_unusable_sessions);
}
