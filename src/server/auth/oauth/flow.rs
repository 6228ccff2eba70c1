//! The HTTP side of OAuth: starting a flow, the flow cookie, and the callback. What a
//! provider account means for our accounts (find or create, link) is decided by
//! `auth::accounts::providers`.
//!
//! A flow in progress is a ceremony (`db::ceremonies`, kind `oauth`): the PKCE verifier,
//! the state, the nonce and the purpose stay on the server, and the browser's cookie
//! holds only a random handle, so it can neither read a flow nor forge or alter one — in
//! particular not plant one that links someone's account to another person's provider
//! account. Over https it is a `__Host-` cookie (`Secure`, `Path=/`, this host only),
//! like the session cookie. A link flow names the session that started it (by a hash of
//! the session's id) and completes only in that session, for that session's user. A
//! flow is good for one callback: the callback takes it out of the table before anything
//! else (of twenty copies of one callback, one finds it).

use crate::{
    domain::{encode_query_value, LocalPath},
    model::{AppError, ErrorKind, Provider},
    server::{
        auth::{
            accounts::providers::{self, Linking},
            cookie::PrivateCookie,
            throttle,
            two_factor::{self, SignIn},
        },
        context::RequestCtx,
        db::ceremonies,
        http::error_page,
        identity::{
            ceremony::{self, Handle, Kind},
            factors::Proof,
        },
        state::AppState,
    },
};
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_cookies::{cookie::SameSite, Cookie, Cookies};

/// How long a started flow stays valid.
const FLOW_SECONDS: i64 = 600;

/// What a flow keeps on the server from its start to its callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider: Provider,
    state: String,
    verifier: String,
    nonce: Option<String>,
    next: String,
    purpose: FlowPurpose,
}

impl Flow {
    /// Whether the provider sent back this flow's own state (compared in constant time).
    fn state_is(&self, returned: &str) -> bool {
        bool::from(returned.as_bytes().ct_eq(self.state.as_bytes()))
    }
}

/// What a flow is for.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
enum FlowPurpose {
    /// Sign in (or sign up) with the provider.
    SignIn,
    /// Connect the provider to the user of the session with this hash.
    Link { session: String },
    /// Confirm on `/reauth` that the holder of the session with this hash is the user
    /// (with a provider account already linked to them).
    Reauth { session: String },
}

/// A hash of a session's id, to bind a flow to it without carrying the id itself.
fn session_binding(session_id: &str) -> String {
    hex::encode(Sha256::digest(format!("oauth flow for {session_id}")))
}

/// The flow cookie (`__Host-gatehouse_oauth` over https).
const FLOW_COOKIE: PrivateCookie = PrivateCookie {
    plain: "gatehouse_oauth",
    host: "__Host-gatehouse_oauth",
    same_site: SameSite::Lax,
};

fn cookie_name(state: &AppState) -> &'static str {
    FLOW_COOKIE.name(state.config.https)
}

fn flow_cookie(state: &AppState, value: String, max_age: i64) -> Cookie<'static> {
    FLOW_COOKIE.build(state.config.https, value, max_age)
}

fn parse_provider(state: &AppState, name: &str) -> Option<Provider> {
    name.parse::<Provider>().ok().filter(|p| state.oauth.has(*p))
}

fn not_found() -> Response {
    error_page::render(http::StatusCode::NOT_FOUND, None)
}

/// The 400 page of a failed flow. The cause goes to the log with the request id.
fn failed(provider: Provider, request_id: Option<&str>, cause: &str) -> Response {
    let id = request_id.unwrap_or("unknown");
    tracing::warn!(request_id = %id, provider = provider.as_str(), %cause, "OAuth sign-in failed");
    let message = format!("Sign-in with {} failed. Please try again.", provider.label());
    error_page::render_with_message(
        http::StatusCode::BAD_REQUEST,
        "Sign-in failed",
        &message,
        Some(id),
    )
}

/// Starts a flow: stores it (for `user_id`'s account when it acts on one, so a change
/// of their credentials ends it), gives the browser its handle and sends it to the
/// provider.
async fn begin(
    ctx: &RequestCtx,
    cookies: &Cookies,
    provider: Provider,
    next: String,
    purpose: FlowPurpose,
    user_id: Option<i64>,
) -> Response {
    let state = &ctx.state;
    let Some(started) = state.oauth.start(provider) else {
        return not_found();
    };
    // Every start stores a flow until it expires: a client's starts are limited.
    if let Err(e) = throttle::ceremony_allowance(ctx, "oauth", "OAuth flows for this address").await {
        return error_response(e, provider, ctx.request_id.as_deref());
    }
    let flow = Flow {
        provider,
        state: started.state,
        verifier: started.verifier,
        nonce: started.nonce,
        next,
        purpose,
    };
    let handle = Handle::generate();
    if let Err(e) = store(state, &handle, &flow, user_id, ctx.now()).await {
        return error_response(e, provider, ctx.request_id.as_deref());
    }
    cookies.add(flow_cookie(state, handle.expose().to_owned(), FLOW_SECONDS));
    Redirect::to(&started.url).into_response()
}

async fn store(
    state: &AppState,
    handle: &Handle,
    flow: &Flow,
    user_id: Option<i64>,
    now: i64,
) -> Result<(), AppError> {
    let payload = serde_json::to_string(flow).map_err(anyhow::Error::from)?;
    let mut conn = state.db.conn().await?;
    let new = ceremonies::NewCeremony {
        id: &handle.id(),
        kind: Kind::OAuth,
        user_id,
        payload: &payload,
        next: &flow.next,
        credentials_version: 0,
        expires_at: now + FLOW_SECONDS,
        now,
    };
    ceremonies::begin(conn.exec(), &new).await?;
    Ok(())
}

/// Takes this browser's flow out: it answers one callback, whatever comes of it.
async fn take(state: &AppState, handle: &str, now: i64) -> Result<Option<Flow>, AppError> {
    let mut conn = state.db.conn().await?;
    let taken = ceremonies::take(conn.exec(), &ceremony::id_of(handle), Kind::OAuth, now).await?;
    Ok(taken.and_then(|row| serde_json::from_str(&row.payload).ok()))
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/{provider}`: sign in (or sign up) with the provider. A signed-in visitor
/// goes to their profile instead: a sign-in flow would replace their session with
/// whatever account the provider silently approves.
pub async fn start_sign_in(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
    cookies: Cookies,
    ctx: RequestCtx,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    if ctx.session.is_some() {
        return Redirect::to("/profile").into_response();
    }
    let next = LocalPath::or_profile(query.next.as_deref());
    begin(&ctx, &cookies, provider, next, FlowPurpose::SignIn, None).await
}

/// `POST /auth/{provider}/link`: connect the provider to the signed-in user (a form on
/// the settings page, so the cross-site layer has checked it).
pub async fn start_link(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    cookies: Cookies,
    ctx: RequestCtx,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let Some(auth) = &ctx.session else {
        return Redirect::to(&crate::page::login_url("/settings/account")).into_response();
    };
    // A new way in is a new credential: it needs a recent authentication.
    if !ctx.recently_authenticated() {
        return Redirect::to(&reauth_url("/settings/account")).into_response();
    }
    let purpose = FlowPurpose::Link {
        session: session_binding(&auth.session_id),
    };
    let user = Some(auth.user.id);
    begin(
        &ctx,
        &cookies,
        provider,
        "/settings/account".to_owned(),
        purpose,
        user,
    )
    .await
}

#[derive(Deserialize)]
pub struct ReauthForm {
    next: Option<String>,
    /// With two-factor sign-in on: a code, checked before the flow starts.
    code: Option<String>,
}

/// `POST /auth/{provider}/reauth`: confirm it's you with a provider account linked to
/// you (the `/reauth` page of an account without a password, or of anyone who prefers).
pub async fn start_reauth(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    cookies: Cookies,
    ctx: RequestCtx,
    axum::Form(form): axum::Form<ReauthForm>,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let Some(auth) = &ctx.session else {
        return Redirect::to(&crate::page::login_url("/reauth")).into_response();
    };
    let next = LocalPath::or_profile(form.next.as_deref());
    // A confirmation includes the second factor when it is on. The lock-out counter the
    // code counted on is cleared once the provider confirmed too (`providers::confirm`).
    if auth.needs_code_after(Proof::Provider) {
        let checked = match two_factor::user_row(&ctx, auth.user.id).await {
            Ok(user) => two_factor::check_code(&ctx, &user, form.code.as_deref().unwrap_or_default())
                .await
                .map(drop),
            Err(e) => Err(e),
        };
        if let Err(e) = checked {
            let reason = match e.kind {
                ErrorKind::TooManyRequests => "throttled",
                ErrorKind::Unauthorized => "code",
                _ => return error_response(e, provider, ctx.request_id.as_deref()),
            };
            let back = format!("{}&error={reason}", reauth_url(&next));
            return Redirect::to(&back).into_response();
        }
    }
    let purpose = FlowPurpose::Reauth {
        session: session_binding(&auth.session_id),
    };
    let user = Some(auth.user.id);
    begin(&ctx, &cookies, provider, next, purpose, user).await
}

/// The confirmation page, returning to `next` afterwards.
fn reauth_url(next: &str) -> String {
    format!("/reauth?next={}", encode_query_value(next))
}

#[derive(Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /auth/{provider}/callback`.
pub async fn callback(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    uri: http::Uri,
    cookies: Cookies,
    ctx: RequestCtx,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let request_id = ctx.request_id.as_deref();
    let fail = |cause: &str| failed(provider, request_id, cause);
    let Ok(Query(query)) = Query::<CallbackQuery>::try_from_uri(&uri) else {
        return fail("malformed callback query");
    };

    // The flow is good for one callback only, whatever happens next: taken out of the
    // table before the provider's answer is even read (so the same callback twice, or
    // twenty copies at once, find it once, whatever the provider would say of its code).
    let handle = cookies.get(cookie_name(&state)).map(|c| c.value().to_owned());
    cookies.add(flow_cookie(&state, String::new(), 0));
    let flow = match handle {
        Some(handle) => match take(&state, &handle, ctx.now()).await {
            Ok(flow) => flow,
            Err(e) => return error_response(e, provider, request_id),
        },
        None => None,
    };
    if let Some(error) = query.error.as_deref() {
        if error == "access_denied" {
            tracing::info!(provider = provider.as_str(), "the user cancelled at the provider");
            return Redirect::to(&cancelled(provider, flow.as_ref(), query.state.as_deref())).into_response();
        }
        return fail(&format!(
            "the provider answered error={}",
            error.chars().take(64).collect::<String>()
        ));
    }
    let Some(flow) = flow else {
        return fail("no flow for this cookie: none sent, forged, answered already or expired");
    };
    if flow.provider != provider {
        return fail("the flow was started for another provider");
    }
    let (Some(code), Some(returned_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return fail("the callback has no code or no state");
    };
    if !flow.state_is(returned_state) {
        return fail("state mismatch");
    }
    if let FlowPurpose::Link { session } | FlowPurpose::Reauth { session } = &flow.purpose {
        let same = ctx.session.as_ref().is_some_and(|auth| {
            bool::from(
                session_binding(&auth.session_id)
                    .as_bytes()
                    .ct_eq(session.as_bytes()),
            )
        });
        if !same {
            return fail("linking was started by another session");
        }
    }
    let user = match state
        .oauth
        .user(provider, code, &flow.verifier, flow.nonce.as_deref(), ctx.now())
        .await
    {
        Ok(user) => user,
        Err(e) => return fail(&format!("{e:#}")),
    };

    match flow.purpose {
        FlowPurpose::Link { .. } => match providers::link(&ctx, &user).await {
            Ok(linking) => {
                let outcome = match linking {
                    Linking::Linked | Linking::AlreadyYours => "done=linked",
                    Linking::LinkedElsewhere => "error=linked-elsewhere",
                    Linking::ProviderTaken => "error=already-connected",
                };
                let provider = encode_query_value(provider.as_str());
                Redirect::to(&format!("/settings/account?{outcome}&provider={provider}")).into_response()
            }
            Err(e) => error_response(e, provider, request_id),
        },
        FlowPurpose::Reauth { .. } => match providers::confirm(&ctx, &user).await {
            Ok(()) => Redirect::to(&LocalPath::or_profile(Some(&flow.next))).into_response(),
            Err(e) => error_response(e, provider, request_id),
        },
        FlowPurpose::SignIn => {
            let next = LocalPath::or_profile(Some(&flow.next));
            match providers::sign_in(&ctx, &user, &next).await {
                Ok(SignIn::Complete(_)) => Redirect::to(&next).into_response(),
                Ok(SignIn::SecondFactorPending) => Redirect::to("/login/two-factor").into_response(),
                Err(e) => error_response(e, provider, request_id),
            }
        }
    }
}

/// Where a visitor who cancelled at the provider goes back to: the page they started
/// from, which says the provider was cancelled and offers the other ways. The flow
/// cookie decides which page only when its state is the one the provider sent back;
/// without it, the sign-in page.
fn cancelled(provider: Provider, flow: Option<&Flow>, returned_state: Option<&str>) -> String {
    let name = encode_query_value(provider.as_str());
    let flow = flow.filter(|flow| {
        flow.provider == provider && returned_state.is_some_and(|returned| flow.state_is(returned))
    });
    let next = |flow: &Flow| {
        LocalPath::parse(&flow.next)
            .map(|next| format!("&next={}", encode_query_value(next.as_str())))
            .unwrap_or_default()
    };
    match flow {
        Some(
            flow @ Flow {
                purpose: FlowPurpose::SignIn,
                ..
            },
        ) => format!("/login?cancelled={name}{}", next(flow)),
        Some(Flow {
            purpose: FlowPurpose::Link { .. },
            ..
        }) => {
            format!("/settings/account?error=cancelled&provider={name}")
        }
        Some(
            flow @ Flow {
                purpose: FlowPurpose::Reauth { .. },
                ..
            },
        ) => {
            format!("/reauth?error=cancelled&provider={name}{}", next(flow))
        }
        None => format!("/login?cancelled={name}"),
    }
}

fn error_response(error: AppError, provider: Provider, request_id: Option<&str>) -> Response {
    match error.kind {
        ErrorKind::TooManyRequests => {
            let mut page = error_page::render_with_message(
                http::StatusCode::TOO_MANY_REQUESTS,
                "Too many attempts",
                &error.message,
                request_id,
            );
            if let Some(seconds) = error.retry_after {
                page.headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
            }
            page
        }
        ErrorKind::Internal => error_page::render(http::StatusCode::INTERNAL_SERVER_ERROR, request_id),
        // The provider vouched for the user, and the account may not sign in (disabled):
        // that is the answer, not "try again".
        ErrorKind::Forbidden => error_page::render_with_message(
            http::StatusCode::FORBIDDEN,
            "Sign-in refused",
            &error.message,
            request_id,
        ),
        _ => failed(provider, request_id, &error.message),
    }
}
