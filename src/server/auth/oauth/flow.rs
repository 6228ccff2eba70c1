//! The HTTP side of OAuth: starting a flow, the flow cookie, and the callback. What a
//! provider account means for our accounts (find or create, link) is decided by
//! `auth::accounts::providers`.

use crate::{
    domain::{encode_query_value, LocalPath},
    model::{AppError, ErrorKind, Provider},
    server::{
        auth::accounts::providers::{self, Linking},
        context::RequestCtx,
        db::now_seconds,
        http::error_page,
        state::AppState,
    },
};
use axum::{
    extract::{Path, Query, State},
    response::{IntoResponse, Redirect, Response},
};
use base64::Engine;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tower_cookies::{
    cookie::{time::Duration as CookieDuration, SameSite},
    Cookie, Cookies,
};

/// How long a started flow stays valid.
const FLOW_SECONDS: i64 = 600;

/// What the state cookie carries from the start of a flow to its callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    verifier: String,
    nonce: Option<String>,
    next: String,
    /// Set when the flow connects the provider to this signed-in user.
    link_user: Option<i64>,
    started: i64,
}

fn cookie_name(provider: Provider) -> String {
    format!("{}_oauth_state", provider.as_str())
}

fn flow_cookie(
    state: &AppState,
    provider: Provider,
    value: String,
    max_age: CookieDuration,
) -> Cookie<'static> {
    Cookie::build((cookie_name(provider), value))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(state.config.https)
        .path("/auth/")
        .max_age(max_age)
        .build()
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

fn begin(
    state: &AppState,
    cookies: &Cookies,
    provider: Provider,
    next: String,
    link_user: Option<i64>,
) -> Response {
    let Some(started) = state.oauth.start(provider) else {
        return not_found();
    };
    let flow = Flow {
        state: started.state,
        verifier: started.verifier,
        nonce: started.nonce,
        next,
        link_user,
        started: now_seconds(),
    };
    let Ok(json) = serde_json::to_vec(&flow) else {
        return not_found();
    };
    let value = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
    cookies.add(flow_cookie(
        state,
        provider,
        value,
        CookieDuration::seconds(FLOW_SECONDS),
    ));
    Redirect::to(&started.url).into_response()
}

#[derive(Deserialize)]
pub struct StartQuery {
    next: Option<String>,
}

/// `GET /auth/{provider}`: sign in (or sign up) with the provider.
pub async fn start_sign_in(
    State(state): State<AppState>,
    Path(provider): Path<String>,
    Query(query): Query<StartQuery>,
    cookies: Cookies,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let next = LocalPath::or_profile(query.next.as_deref());
    begin(&state, &cookies, provider, next, None)
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
    begin(
        &state,
        &cookies,
        provider,
        "/settings/account".to_owned(),
        Some(auth.user.id),
    )
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

    // The state cookie is good for one callback only, whatever happens next.
    let stored = cookies.get(&cookie_name(provider)).map(|c| c.value().to_owned());
    cookies.add(flow_cookie(&state, provider, String::new(), CookieDuration::ZERO));

    if let Some(error) = query.error.as_deref() {
        return fail(&format!(
            "the provider answered error={}",
            error.chars().take(64).collect::<String>()
        ));
    }
    let Some(stored) = stored else {
        return fail("no state cookie (expired, or another browser)");
    };
    let Some(flow) = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(stored)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<Flow>(&bytes).ok())
    else {
        return fail("unreadable state cookie");
    };
    let (Some(code), Some(returned_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return fail("the callback has no code or no state");
    };
    if !bool::from(returned_state.as_bytes().ct_eq(flow.state.as_bytes())) {
        return fail("state mismatch");
    }
    if now_seconds() - flow.started > FLOW_SECONDS {
        return fail("the flow expired");
    }
    let user = match state
        .oauth
        .user(provider, code, &flow.verifier, flow.nonce.as_deref())
        .await
    {
        Ok(user) => user,
        Err(e) => return fail(&format!("{e:#}")),
    };

    match flow.link_user {
        Some(user_id) => {
            if ctx.session.as_ref().map(|a| a.user.id) != Some(user_id) {
                return fail("linking was started by another session");
            }
            match providers::link(&ctx, &user).await {
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
            }
        }
        None => match providers::sign_in(&ctx, &user).await {
            Ok(_) => Redirect::to(&LocalPath::or_profile(Some(&flow.next))).into_response(),
            Err(e) => error_response(e, provider, request_id),
        },
    }
}

fn error_response(error: AppError, provider: Provider, request_id: Option<&str>) -> Response {
    if error.kind == ErrorKind::Internal {
        return error_page::render(http::StatusCode::INTERNAL_SERVER_ERROR, request_id);
    }
    failed(provider, request_id, &error.message)
}
