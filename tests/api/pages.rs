//! The shell: home page, 404, request ids, security headers, the 500 page.

use crate::helpers::{expect_status, spawn_app_with_routes, text, Backend, TestApp};
use reqwest::StatusCode;

async fn the_home_page_renders_the_shell_with_navigation(app: TestApp) {
    let response = app.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or("")
        .starts_with("text/html"));
    let body = text(response).await.replace("<!>", "");
    assert!(body.contains("<html lang=\"en\""), "{body}");
    assert!(body.contains("Welcome to Gatehouse"));
    assert!(
        body.contains("data-testid=\"nav-signed-out\""),
        "signed-out navigation: {body}"
    );
    assert!(body.contains("href=\"/login\"") && body.contains("href=\"/signup\""));
    assert!(body.contains("/pkg/gatehouse.css"), "stylesheet linked");
    assert!(body.contains("/pkg/gatehouse.js"), "hydration script linked");
    assert!(body.contains("class=\"site-footer\""));
}

/// Nothing built for a request stays in a shared browser's cache or a proxy: a
/// signed-in user's pages (reused ones included), server-function answers, redirects
/// and errors are `no-store`; the site's static files may be kept and revalidated.
async fn answers_are_never_stored_and_static_files_are_revalidated(backend: Backend) {
    let site = tempfile::tempdir().expect("site");
    std::fs::create_dir_all(site.path().join("pkg")).expect("pkg");
    std::fs::write(site.path().join("pkg/app.js"), "console.log(1)").expect("asset");
    let root = site.path().display().to_string();
    let app = crate::helpers::spawn_app_with(backend, &[(crate::helpers::TEST_SITE_ROOT, &root)])
        .await
        .expect("app");
    app.user_with_role("ada", "admin").await;
    let ada = crate::helpers::new_client();
    app.login_with(&ada, "ada", crate::helpers::GOOD_PASSWORD).await;
    let mut seen = Vec::new();
    for path in [
        "/profile",
        "/profile",
        "/members",
        "/settings/account",
        "/settings/sessions",
        "/admin",
        "/",
        "/nope",
    ] {
        let response = ada.get(app.url(path)).send().await.expect("GET");
        seen.push((
            path,
            response.status(),
            response.headers().get("cache-control").cloned(),
        ));
    }
    let api = app.call_with(&ada, "current_user", &[]).await;
    seen.push((
        "/api/current_user",
        api.status(),
        api.headers().get("cache-control").cloned(),
    ));
    let redirect = app.get("/profile").await;
    seen.push((
        "/profile signed out",
        redirect.status(),
        redirect.headers().get("cache-control").cloned(),
    ));
    for (path, status, cache) in seen {
        assert_eq!(
            cache.as_ref().and_then(|v| v.to_str().ok()),
            Some("no-store"),
            "{path} ({status})"
        );
    }
    let asset = expect_status(app.get("/pkg/app.js").await, StatusCode::OK).await;
    assert_eq!(asset, "console.log(1)");
    let asset = app.get("/pkg/app.js").await;
    assert_eq!(asset.headers()["cache-control"], "public, no-cache");
}

async fn unknown_paths_answer_the_404_page(app: TestApp) {
    for path in ["/nope", "/profile/extra/deep", "/%2e%2e/etc/passwd", "/api"] {
        let response = app.get(path).await;
        let body = expect_status(response, StatusCode::NOT_FOUND).await;
        assert!(body.contains("Page not found"), "{path}: {body}");
        assert!(
            body.contains("class=\"site-header\""),
            "{path}: rendered inside the app shell"
        );
    }
}

async fn every_response_carries_a_fresh_request_id(app: TestApp) {
    let a = app.get("/").await;
    let b = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "attacker-chosen")
        .send()
        .await
        .expect("GET");
    let id_a = a.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    let id_b = b.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    for id in [&id_a, &id_b] {
        assert_eq!(id.len(), 16, "{id}");
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(id_a, id_b);
}

async fn security_headers_are_on_pages_errors_and_health_checks(app: TestApp) {
    for (path, status) in [
        ("/", StatusCode::OK),
        ("/nope", StatusCode::NOT_FOUND),
        ("/healthz", StatusCode::OK),
        ("/profile", StatusCode::SEE_OTHER),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), status, "{path}");
        let h = response.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "strict-origin-when-cross-origin", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(h.get("server").is_none(), "{path}: no server banner");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: no HSTS over http"
        );
    }
}

async fn app_pages_allow_only_scripts_that_carry_the_response_nonce(app: TestApp) {
    let response = app.get("/").await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body = text(response).await;
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page policy names a nonce");
    assert!(nonce.len() >= 16, "nonce {nonce}");
    assert!(csp.contains("script-src 'self' 'nonce-"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let scripts = body.matches("<script").count();
    let with_nonce = body.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(
        scripts > 0 && with_nonce >= scripts,
        "{scripts} scripts, {with_nonce} with the nonce"
    );
    let again = app.get("/").await;
    let csp_again = again.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(csp, csp_again, "a new nonce per response");
}

async fn an_oversized_body_is_refused_with_413_and_the_server_lives_on(app: TestApp) {
    let big = "x".repeat(1024 * 1024);
    let response = app
        .post_form("/api/login", &[("username", "alice"), ("password", &big)])
        .await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    let body = text(response).await;
    assert!(body.contains("Request too large"), "{body}");
    // A fresh connection: the server closes the one whose body it refused to read.
    let fresh = crate::helpers::new_client()
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("GET");
    expect_status(fresh, StatusCode::OK).await;
}

db_tests!(
    the_home_page_renders_the_shell_with_navigation,
    unknown_paths_answer_the_404_page,
    every_response_carries_a_fresh_request_id,
    security_headers_are_on_pages_errors_and_health_checks,
    app_pages_allow_only_scripts_that_carry_the_response_nonce,
    an_oversized_body_is_refused_with_413_and_the_server_lives_on,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_becomes_the_500_page_with_its_request_id() {
    let extra = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            let v: Vec<String> = Vec::new();
            // An out-of-bounds index, the kind of bug this page exists for.
            v[usize::from(v.is_empty())].clone()
        }),
    );
    let app = spawn_app_with_routes(Backend::Sqlite, &[], extra)
        .await
        .expect("app");
    let response = app.get("/boom").await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body = text(response).await;
    assert!(body.contains("Something went wrong"), "{body}");
    assert!(body.contains(&id), "the page quotes the request id {id}: {body}");
    assert!(
        !body.contains("index out of bounds"),
        "no panic message on the page: {body}"
    );
    expect_status(app.get("/healthz").await, StatusCode::OK).await;
}

/// Starting a server lists its routes, and leptos holds back every resource loading in
/// the process while it does. Pages of a running server must not stall meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_keep_rendering_while_another_server_starts_in_the_same_process() {
    let app = crate::helpers::spawn_app(Backend::Sqlite).await.expect("app");
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client");
    let load = async {
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let batch = ["/", "/nope", "/login", "/signup"].map(|path| client.get(app.url(path)).send());
            for result in futures::future::join_all(batch).await {
                statuses.push(result.map(|r| r.status().as_u16()).unwrap_or(0));
            }
        }
        statuses
    };
    let starts = async {
        for _ in 0..4 {
            let other = crate::helpers::spawn_app(Backend::Sqlite)
                .await
                .expect("another app");
            other.stop().await;
        }
    };
    let (statuses, ()) = tokio::join!(load, starts);
    let stalled = statuses.iter().filter(|s| !matches!(s, 200 | 404)).count();
    assert_eq!(stalled, 0, "{statuses:?}");
}

mod caching {
    use super::*;
    backend_tests!(answers_are_never_stored_and_static_files_are_revalidated);
}

/// `GATEHOUSE_APP_NAME` renames the app without touching code: titles (the home page's
/// is the name alone), navigation, footer, error pages made outside the app, and the
/// session cookie, which still works under its new name.
async fn the_app_name_is_configurable(app: TestApp) {
    let home = expect_status(app.get("/").await, StatusCode::OK)
        .await
        .replace("<!>", "");
    for expected in [
        // The title element takes its text raw (leptos_meta writes it so; the name
        // may hold no `<` or `>`).
        "<title>Acme Books & Co</title>",
        "<meta name=\"application-name\" content=\"Acme Books &amp; Co\"",
        "Welcome to Acme Books &amp; Co</h1>",
        "Acme Books &amp; Co · accounts, sessions and roles",
    ] {
        assert!(home.contains(expected), "{expected}: {home}");
    }
    assert!(!home.contains("Gatehouse"), "{home}");
    let login = expect_status(app.get("/login").await, StatusCode::OK).await;
    assert!(
        login.contains("<title>Sign in · Acme Books & Co</title>"),
        "{login}"
    );
    // An error page from the server's own layers (a path the page table does not list).
    let missing = app.get("/settings/nothing").await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(missing.headers()["x-frame-options"], "DENY");
    let missing = text(missing).await;
    assert!(
        missing.contains("<title>Page not found · Acme Books &amp; Co</title>"),
        "{missing}"
    );
    assert!(
        missing.contains("class=\"brand\" href=\"/\">Acme Books &amp; Co</a>"),
        "{missing}"
    );
    assert!(!missing.contains("Gatehouse"), "{missing}");

    let signup = app
        .call_with(
            &app.client,
            "signup",
            &[("username", "alice"), ("password", crate::helpers::GOOD_PASSWORD)],
        )
        .await;
    let cookies = crate::helpers::set_cookies(&signup);
    assert!(
        cookies
            .iter()
            .any(|c| c.starts_with("acme_books_co_session=") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    assert!(
        !cookies.iter().any(|c| c.starts_with("gatehouse_session=")),
        "{cookies:?}"
    );
    expect_status(signup, StatusCode::OK).await;
    let profile = expect_status(app.get("/profile").await, StatusCode::OK).await;
    assert!(
        profile.contains("data-testid=\"profile-username\">alice<"),
        "{profile}"
    );
}

mod app_name {
    use super::*;
    db_tests!(with [("GATEHOUSE_APP_NAME", "  Acme Books & Co ")]; the_app_name_is_configurable);
}
