//! Building the state and the router, serving, and the hourly maintenance task.

use super::{
    auth::{self, cookie::SessionCookie, password::PasswordHasher},
    config::Config,
    db::Db,
    http::{
        csp,
        csrf::{self, CsrfPolicy},
        headers,
        request_id::{self, HexIds, X_REQUEST_ID},
        server_fn, BODY_LIMIT_BYTES,
    },
    keys, metrics,
    site::{
        access,
        files::{self, SiteFiles},
        page_cache::{self, PageCache},
    },
    state::{AppState, Shared},
};
use crate::app::{shell, App};
use anyhow::Context;
use axum::{
    body::Body,
    extract::{Request, State},
    http::StatusCode,
    middleware::from_fn_with_state,
    response::{IntoResponse, Response},
    routing::{get, post},
    Router,
};
use leptos::{config::LeptosOptions, prelude::provide_context};
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, OnceLock},
    time::Duration,
};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_cookies::CookieManagerLayer;
use tower_http::{
    catch_panic::CatchPanicLayer,
    compression::{
        predicate::{DefaultPredicate, NotForContentType, Predicate},
        CompressionLayer,
    },
    limit::RequestBodyLimitLayer,
    request_id::{PropagateRequestIdLayer, SetRequestIdLayer},
    services::{ServeDir, ServeFile},
    timeout::TimeoutLayer,
    trace::TraceLayer,
    CompressionLevel,
};

/// Longest a request may take before it is answered with 408.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest a sign-in waits for a free hashing slot before it gets 503.
const HASH_WAIT: Duration = Duration::from_secs(10);
/// How often expired sessions and stale throttling rows are purged.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

/// Leptos settings: where the compiled site lives and where to listen. cargo-leptos
/// sets `LEPTOS_*` variables; without them we fall back to this crate's `target/site`,
/// so the binary also works when started directly.
pub fn leptos_options() -> anyhow::Result<LeptosOptions> {
    let site_root = std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| {
        let local = PathBuf::from("target/site");
        if local.is_dir() {
            "target/site".to_owned()
        } else {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/site").to_owned()
        }
    });
    let site_addr: SocketAddr = std::env::var("LEPTOS_SITE_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".to_owned())
        .parse()
        .context("invalid LEPTOS_SITE_ADDR: expected an address such as 127.0.0.1:3000")?;
    let env = match std::env::var("LEPTOS_ENV").as_deref() {
        Ok("PROD") | Ok("prod") | Ok("production") => leptos::config::Env::PROD,
        _ => leptos::config::Env::DEV,
    };
    // Content-hashed file names (cargo-leptos `hash-files`): on when LEPTOS_HASH_FILES
    // says so (cargo-leptos sets it), or, left unset, when the build's hash file is there.
    let hash_file = std::env::var("LEPTOS_HASH_FILE_NAME").unwrap_or_else(|_| "hash.txt".to_owned());
    let hash_files = match std::env::var("LEPTOS_HASH_FILES") {
        Ok(value) => value
            .parse::<bool>()
            .context("invalid LEPTOS_HASH_FILES: expected true or false")?,
        Err(_) => files::hash_file_exists(&hash_file),
    };
    Ok(LeptosOptions::builder()
        .output_name("gatehouse")
        .site_root(site_root)
        .site_pkg_dir("pkg")
        .site_addr(site_addr)
        .env(env)
        .hash_files(hash_files)
        .hash_file(hash_file.into())
        .reload_port(
            std::env::var("LEPTOS_RELOAD_PORT")
                .ok()
                .and_then(|p| p.parse().ok())
                .unwrap_or(3001),
        )
        .build())
}

/// Opens the database, applies migrations and prepares the password hasher.
pub async fn build_state(config: Config, leptos_options: LeptosOptions) -> anyhow::Result<AppState> {
    build(config, leptos_options, Running::Server).await
}

/// The state of a command-line command. Commands seal nothing, so on PostgreSQL they
/// run without `GATEHOUSE_SECRET_KEY` (with a key of their own that nothing outlives).
pub async fn build_command_state(config: Config, leptos_options: LeptosOptions) -> anyhow::Result<AppState> {
    build(config, leptos_options, Running::Command).await
}

/// What a state is built for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Running {
    Server,
    Command,
}

async fn build(config: Config, leptos_options: LeptosOptions, running: Running) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database_url).await?;
    let source = match (db.key_source(), running) {
        (keys::KeySource::Required, Running::Command) => keys::KeySource::Ephemeral,
        (source, _) => source,
    };
    let keys = keys::load(
        config.secret_key.as_ref(),
        config.secret_key_previous.as_ref(),
        source,
    )?;
    db.migrate().await?;
    let parallelism = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let hasher = PasswordHasher::new(parallelism, HASH_WAIT).await?;
    let oauth = auth::oauth::OAuth::new(&config)?;
    let passkeys = auth::relying_party::RelyingParty::new(&config)?;
    let page_cache = Arc::new(PageCache::new(config.page_cache_bytes, {
        let config = config.clone();
        move |nonce| csp::page_policy(nonce, Some(&config))
    }));
    let mailer = super::mail::transport::Mailer::new(&config)?;
    let breached = auth::password::breached::BreachedCheck::new(&config)?;
    // Commands render no page: they neither need the site's files nor stop without them.
    let files = match running {
        Running::Server => {
            let files = SiteFiles::resolve(&leptos_options)?;
            let missing = files.missing(Path::new(&*leptos_options.site_root));
            if !missing.is_empty() {
                tracing::warn!(
                    site = %leptos_options.site_root,
                    missing = ?missing,
                    "the pages link files the site directory does not have: without them they load \
                     no app and no style (build with `cargo leptos build`; LEPTOS_SITE_ROOT, \
                     LEPTOS_HASH_FILES)"
                );
            }
            files
        }
        Running::Command => SiteFiles::plain(&leptos_options),
    };
    let state = AppState::new(Shared {
        clock: super::clock::Clock::system(),
        oauth,
        passkeys,
        mailer,
        breached,
        keys,
        page_cache,
        cookie: SessionCookie::new(config.https, &config.app_name),
        config,
        db,
        hasher,
        files: Arc::new(files),
        leptos_options,
    });
    // A running server sends the mail queue; a command only adds to it.
    if running == Running::Server {
        super::mail::spawn_sender(state.clone());
    }
    Ok(state)
}

/// The whole application router with its layers.
pub fn router(state: AppState) -> Router {
    router_with(state, Router::new())
}

/// The app's routes, listed once per process. Listing them renders the app in a special
/// mode that, through a process-wide flag in leptos, holds back every resource being
/// loaded at the same moment; doing it once, before anything is served, keeps that from
/// ever stalling a request (several servers in one process: tests, benchmarks).
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: OnceLock<Vec<leptos_axum::AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// [`router`] with extra routes inside the layers (tests mount failing handlers here).
pub fn router_with(state: AppState, extra: Router<AppState>) -> Router {
    let routes = route_list();
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let page_cache = state.page_cache.clone();
    let app = Router::new()
        .leptos_routes_with_context(&state, routes, context.clone(), {
            // Behind an Arc: the options are copied only to render a page.
            let options = Arc::new(state.leptos_options.clone());
            move || shell(LeptosOptions::clone(&options))
        })
        .route("/api/{*fn_name}", post(serve_api))
        .route(
            "/auth/passkey/register/options",
            post(auth::passkeys::register_options_endpoint),
        )
        .route("/auth/passkey/register", post(auth::passkeys::register_endpoint))
        .route(
            "/auth/passkey/login/options",
            post(auth::passkeys::login_options_endpoint),
        )
        .route("/auth/passkey/login", post(auth::passkeys::login_endpoint))
        .route("/auth/{provider}", get(auth::oauth::start_sign_in))
        .route("/auth/{provider}/link", post(auth::oauth::start_link))
        .route("/auth/{provider}/reauth", post(auth::oauth::start_reauth))
        .route("/auth/{provider}/callback", get(auth::oauth::callback))
        .merge(extra)
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            context, shell,
        ))
        .with_state(state.clone());
    // The layers wrap each router as a whole, never through `Router::layer`: that one
    // wraps every route in a boxed copy of the stack, which the router then clones, box
    // by box, for every request, and each `from_fn` layer clones everything below it
    // again. Around a router (an `Arc` inside) the stack clones cheaply. Outermost first.
    let app = ServiceBuilder::new()
        .layer(CookieManagerLayer::new())
        .layer(from_fn_with_state(state.clone(), auth::authenticate))
        .layer(from_fn_with_state(
            access::Policy {
                require_2fa: state.config.require_2fa,
            },
            access::enforce,
        ))
        .layer(from_fn_with_state(
            state.keys.clone(),
            server_fn::check_error_link,
        ))
        .layer(from_fn_with_state(state.keys.clone(), server_fn::check_call))
        .layer(from_fn_with_state(page_cache, page_cache::serve))
        .service(app);

    let site_root = PathBuf::from(&*state.leptos_options.site_root);
    let pkg_dir = site_root.join(&*state.leptos_options.site_pkg_dir);
    // The site's files as built: a release build made with `--precompress` has a brotli
    // and a gzip copy beside each, which are sent as they are (no compression work per
    // request); a build without them is compressed on the way out like other answers.
    let file = |name: &str| {
        ServeFile::new(site_root.join(name))
            .precompressed_br()
            .precompressed_gzip()
    };
    let hsts = state.config.https;
    let app_name = state.config.app_name.clone();
    let files = state.files.clone();
    let trace = TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
        let id = request_id::of(req.extensions()).unwrap_or_default();
        tracing::info_span!("request", id = %id, method = %req.method(), path = %req.uri().path())
    });
    let csrf_policy = CsrfPolicy {
        origin: state.config.public_origin.clone().into(),
        host: state.config.public_host.as_str().into(),
    };
    let metrics_on = state.config.metrics_token.is_some();
    let mut site = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if metrics_on {
        metrics::install();
        site = site.route("/metrics", get(super::site::scrape::scrape));
    }
    let site = site
        .nest_service(
            "/pkg",
            ServeDir::new(pkg_dir).precompressed_br().precompressed_gzip(),
        )
        .route_service("/favicon.svg", file("favicon.svg"))
        .route_service("/passkeys.js", file("passkeys.js"))
        .fallback_service(app)
        .with_state(state);
    let site = ServiceBuilder::new()
        .map_request(request_id::drop_client_id)
        .layer(SetRequestIdLayer::new(X_REQUEST_ID.clone(), HexIds))
        .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
        .layer(trace)
        // Counting and timing requests happens only with metrics on: without them the
        // layer is not there at all.
        .option_layer(metrics_on.then_some(metrics::RecordLayer))
        .layer(headers::SecureLayer::new(hsts, &app_name, files))
        .layer(CatchPanicLayer::custom(headers::panicked))
        .layer(from_fn_with_state(csrf_policy, csrf::check))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        // Dynamic HTML is not compressed: for a page of a few kilobytes it costs more CPU
        // than rendering the page (measured: about a third of the throughput). Static
        // files are precompressed at build time; JSON and the rest compress cheaply.
        .layer(
            CompressionLayer::new()
                .quality(CompressionLevel::Fastest)
                .compress_when(DefaultPredicate::new().and(NotForContentType::const_new("text/html"))),
        )
        .service(site);
    Router::new().fallback_service(site)
}

/// Server functions, and the answer to `/api/…` paths that name none (a 400, not a page).
async fn serve_api(State(state): State<AppState>, req: Request) -> Response {
    handle_server_fns_with_context(move || provide_context(state.clone()), req)
        .await
        .into_response()
}

/// Liveness: the process answers. Never touches the database.
async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers too.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => (StatusCode::OK, "ready").into_response(),
        Err(err) => {
            tracing::warn!(error = format!("{err:#}"), "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// Every hour while the server runs: [`super::maintenance::purge_expired`].
pub fn spawn_maintenance(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(MAINTENANCE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            super::maintenance::purge_expired(&state.db, &state.config, state.clock.now_millis()).await;
        }
    })
}

/// Serves `router` on `listener` until `shutdown` completes; requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .context("server failed")
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
