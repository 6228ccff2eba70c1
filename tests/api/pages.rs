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

/// A build with content-hashed names (cargo-leptos `hash-files`) and precompressed copies
/// (`--precompress`): pages link the hashed names from the build's hash file; those files
/// may be kept for a year without asking again, and their brotli and gzip copies are sent
/// byte for byte (no compression on the way out). Files whose names stay are revalidated;
/// an error page made outside the app links the hashed stylesheet too.
async fn a_hashed_build_is_linked_kept_for_good_and_sent_precompressed(backend: Backend) {
    let site = tempfile::tempdir().expect("site");
    let pkg = site.path().join("pkg");
    std::fs::create_dir_all(&pkg).expect("pkg");
    let put = |name: &str, bytes: &[u8]| std::fs::write(site.path().join(name), bytes).expect("write");
    // Names as cargo-leptos gives them: the URL-safe base64 of the content's MD5.
    let named = |bytes: &[u8]| {
        use base64::Engine;
        use md5::Digest;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(md5::Md5::digest(bytes))
    };
    let (js, wasm, css) = (
        named(b"export default function init() {}"),
        named(b"\0asm the app"),
        named(b"body { color: black }"),
    );
    put(
        &format!("pkg/gatehouse.{js}.js"),
        b"export default function init() {}",
    );
    put(&format!("pkg/gatehouse.{wasm}.wasm"), b"\0asm the app");
    put(&format!("pkg/gatehouse.{wasm}.wasm.br"), b"brotli copy");
    put(&format!("pkg/gatehouse.{wasm}.wasm.gz"), b"gzip copy");
    // The stylesheet was rewritten after it was named (as a split build does to some
    // files): the page links it with its content's hash.
    put(
        &format!("pkg/gatehouse.{css}.css"),
        b"body { color: black } /* rewritten */",
    );
    let css_link = format!(
        "/pkg/gatehouse.{css}.css?v={}",
        named(b"body { color: black } /* rewritten */")
    );
    // A piece of a split build that the build rewrote after naming it: its name is not
    // the hash of what it holds, so a browser must not keep it for good.
    let stale = named(b"the piece as it was named");
    put(&format!("pkg/piece.{stale}.wasm"), b"the piece, rewritten");
    put("favicon.svg", b"<svg/>");
    put("favicon.svg.br", b"brotli svg");
    let hashes = site.path().join("hash.txt");
    std::fs::write(&hashes, format!("js: {js}\nwasm: {wasm}\ncss: {css}\n")).expect("hash file");
    let root = site.path().display().to_string();
    let hashes = hashes.display().to_string();
    let Some(app) = crate::helpers::spawn_app_with(
        backend,
        &[
            (crate::helpers::TEST_SITE_ROOT, &root),
            (crate::helpers::TEST_HASH_FILE, &hashes),
        ],
    )
    .await
    else {
        return;
    };
    let home = expect_status(app.get("/").await, StatusCode::OK)
        .await
        .replace("<!>", "");
    for linked in [
        format!("<link rel=\"stylesheet\" id=\"leptos\" href=\"{css_link}\">"),
        format!("<link rel=\"modulepreload\" href=\"/pkg/gatehouse.{js}.js\">"),
        format!("<link rel=\"preload\" href=\"/pkg/gatehouse.{wasm}.wasm\" as=\"fetch\" type=\"application/wasm\" crossorigin=\"\">"),
        format!("import init, {{ hydrate }} from \"/pkg/gatehouse.{js}.js\";"),
        format!("init({{ module_or_path: \"/pkg/gatehouse.{wasm}.wasm\" }})"),
    ] {
        assert!(home.contains(&linked), "{linked} in {home}");
    }
    assert!(
        !home.contains("/pkg/gatehouse.js") && !home.contains("/pkg/gatehouse.css"),
        "{home}"
    );

    let fetch = |path: String, encoding: Option<&'static str>| {
        let mut request = app.client.get(app.url(&path));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        async move { request.send().await.expect("GET") }
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    for (encoding, sent, body) in [
        (Some("br, gzip"), Some("br"), &b"brotli copy"[..]),
        (Some("gzip"), Some("gzip"), &b"gzip copy"[..]),
        (None, None, &b"\0asm the app"[..]),
    ] {
        let wasm = fetch(format!("/pkg/gatehouse.{wasm}.wasm"), encoding).await;
        assert_eq!(wasm.status(), StatusCode::OK, "{encoding:?}");
        assert_eq!(
            header(&wasm, "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(header(&wasm, "content-encoding").as_deref(), sent, "{encoding:?}");
        assert_eq!(header(&wasm, "content-type").as_deref(), Some("application/wasm"));
        assert_eq!(&wasm.bytes().await.expect("body")[..], body, "{encoding:?}");
    }
    for path in [format!("/pkg/gatehouse.{js}.js"), css_link.clone()] {
        let file = fetch(path.clone(), None).await;
        assert_eq!(file.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(&file, "cache-control").as_deref(),
            Some("public, max-age=31536000, immutable"),
            "{path}"
        );
    }
    // A name that is not its content's hash: revalidated.
    let piece = fetch(format!("/pkg/piece.{stale}.wasm"), None).await;
    assert_eq!(piece.status(), StatusCode::OK);
    assert_eq!(
        header(&piece, "cache-control").as_deref(),
        Some("public, no-cache")
    );
    // A name without a hash: kept, revalidated; its brotli copy sent as it is.
    let icon = fetch("/favicon.svg".to_owned(), Some("br")).await;
    assert_eq!(
        header(&icon, "cache-control").as_deref(),
        Some("public, no-cache")
    );
    assert_eq!(header(&icon, "content-encoding").as_deref(), Some("br"));
    assert_eq!(&icon.bytes().await.expect("body")[..], b"brotli svg");
    // The unhashed name of a hashed build is not there, and its 404 is not kept.
    let gone = fetch("/pkg/gatehouse.wasm".to_owned(), None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&gone, "cache-control").as_deref(), Some("no-store"));
    // An error page made by a layer (the body limit) links the build's stylesheet.
    let too_large = app
        .client
        .post(app.url("/api/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("origin", app.url(""))
        .body(vec![b'a'; 100 * 1024])
        .send()
        .await
        .expect("POST");
    let page = expect_status(too_large, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(page.contains(&format!("href=\"{css_link}\"")), "{page}");
}

mod caching {
    use super::*;
    backend_tests!(
        answers_are_never_stored_and_static_files_are_revalidated,
        a_hashed_build_is_linked_kept_for_good_and_sent_precompressed
    );
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
