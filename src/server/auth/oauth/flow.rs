//! The HTTP side of OAuth: starting a flow, the callback, and unlinking.

use super::identity::{candidate, derive_username, ProviderUser};
use crate::{
    domain::{encode_query_value, LocalPath},
    model::{AppError, AuditKind, ErrorKind, Provider},
    server::{
        audit::{self, Event},
        auth::session::{self, ClientInfo},
        context::CurrentAuth,
        db::{self, now_seconds, oauth, users},
        error::internal,
        http::{error_page, request_id::RequestId},
        state::AppState,
    },
};
use axum::{
    extract::{Path, Query, Request, State},
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
fn failed(provider: Provider, request_id: Option<&RequestId>, cause: &str) -> Response {
    let id = request_id.map(RequestId::as_str).unwrap_or("unknown");
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
    req: Request,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let Some(auth) = req.extensions().get::<CurrentAuth>().and_then(|a| a.0.clone()) else {
        return Redirect::to(&crate::routes::login_url("/settings/account")).into_response();
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
    cookies: Cookies,
    req: Request,
) -> Response {
    let Some(provider) = parse_provider(&state, &provider) else {
        return not_found();
    };
    let request_id = req.extensions().get::<RequestId>().cloned();
    let presented = req.extensions().get::<CurrentAuth>().and_then(|a| a.0.clone());
    let client = req.extensions().get::<ClientInfo>().cloned().unwrap_or_default();
    let fail = |cause: &str| failed(provider, request_id.as_ref(), cause);
    let Ok(Query(query)) = Query::<CallbackQuery>::try_from_uri(req.uri()) else {
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
            let Some(auth) = presented.filter(|a| a.user.id == user_id) else {
                return fail("linking was started by another session");
            };
            match link(&state, &client, auth.user.id, &auth.user.username, &user).await {
                Ok(outcome) => Redirect::to(&format!("/settings/account?{outcome}")).into_response(),
                Err(e) => error_response(e, provider, request_id.as_ref()),
            }
        }
        None => match sign_in(
            &state,
            &client,
            presented.as_ref().map(|a| a.session_id.as_str()),
            &user,
        )
        .await
        {
            Ok(created) => {
                state
                    .cookie
                    .issue(&cookies, created.token.expose(), created.expires_at);
                Redirect::to(&LocalPath::or_profile(Some(&flow.next))).into_response()
            }
            Err(e) => error_response(e, provider, request_id.as_ref()),
        },
    }
}

fn error_response(error: AppError, provider: Provider, request_id: Option<&RequestId>) -> Response {
    if error.kind == ErrorKind::Internal {
        return error_page::render(
            http::StatusCode::INTERNAL_SERVER_ERROR,
            request_id.map(RequestId::as_str),
        );
    }
    failed(provider, request_id, &error.message)
}

/// Connects a provider account to a user. Answers the query of the settings page to
/// go back to: `done=linked`, or `error=…` when the account belongs to someone else.
async fn link(
    state: &AppState,
    client: &ClientInfo,
    user_id: i64,
    username: &str,
    who: &ProviderUser,
) -> Result<String, AppError> {
    let mut tx = state.db.begin().await.map_err(internal)?;
    let provider = who.provider.as_str();
    if let Some(existing) = oauth::find(tx.exec(), provider, &who.id)
        .await
        .map_err(internal)?
    {
        let outcome = if existing.user_id == user_id {
            "done=linked"
        } else {
            "error=linked-elsewhere"
        };
        return Ok(format!("{outcome}&provider={provider}"));
    }
    let inserted = oauth::insert(
        tx.exec(),
        &oauth::Link {
            provider: provider.to_owned(),
            provider_user_id: who.id.clone(),
            user_id,
            display: Some(who.display.clone()),
            created_at: now_seconds(),
        },
    )
    .await
    .map_err(internal)?;
    if inserted == oauth::Linked::Conflict {
        return Ok(format!("error=already-connected&provider={provider}"));
    }
    let detail = format!("{} ({})", who.provider.label(), who.display);
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::OauthLinked, user_id, username).detail(&detail),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(format!("done=linked&provider={}", encode_query_value(provider)))
}

/// Signs in the user linked to the provider account, creating one first if there is
/// none. Always a new session.
async fn sign_in(
    state: &AppState,
    client: &ClientInfo,
    presented: Option<&str>,
    who: &ProviderUser,
) -> Result<session::NewSession, AppError> {
    // A new account's name can be taken between looking and inserting (PostgreSQL can't
    // carry on in a transaction after a unique violation): try the whole thing again.
    for _ in 0..3 {
        let mut tx = state.db.begin().await.map_err(internal)?;
        let provider = who.provider.as_str();
        let (user_id, username, created) = match oauth::find(tx.exec(), provider, &who.id)
            .await
            .map_err(internal)?
        {
            Some(link) => {
                let user = users::find_by_id(tx.exec(), link.user_id)
                    .await
                    .map_err(internal)?
                    .ok_or_else(|| AppError::not_found("The linked account no longer exists."))?;
                if who.avatar_url.is_some() && who.avatar_url != user.avatar_url {
                    users::set_avatar(tx.exec(), user.id, who.avatar_url.as_deref())
                        .await
                        .map_err(internal)?;
                }
                (user.id, user.username, false)
            }
            None => {
                let base = derive_username(&who.username_hint);
                let mut chosen = None;
                for n in 1..=100 {
                    let Some(name) = candidate(&base, n) else { continue };
                    if !users::key_exists(tx.exec(), name.key()).await.map_err(internal)? {
                        chosen = Some(name);
                        break;
                    }
                }
                let name = match chosen {
                    Some(name) => name,
                    None => {
                        let suffix: u32 = rand::random::<u32>() % 1_000_000;
                        candidate(&base, suffix.max(101)).ok_or_else(|| AppError::internal("unknown"))?
                    }
                };
                let new_user = users::NewUser {
                    username: name.as_str(),
                    username_key: name.key(),
                    password_hash: None,
                    role: state.config.default_role,
                    display_name: who.name.as_deref(),
                    avatar_url: who.avatar_url.as_deref(),
                    email: who.email.as_deref(),
                    now: now_seconds(),
                };
                let id = match users::insert(tx.exec(), &new_user).await.map_err(internal)? {
                    users::Inserted::Created(id) => id,
                    users::Inserted::Taken => continue,
                };
                let linked = oauth::insert(
                    tx.exec(),
                    &oauth::Link {
                        provider: provider.to_owned(),
                        provider_user_id: who.id.clone(),
                        user_id: id,
                        display: Some(who.display.clone()),
                        created_at: now_seconds(),
                    },
                )
                .await
                .map_err(internal)?;
                if linked == oauth::Linked::Conflict {
                    // Another request linked this provider account a moment ago.
                    continue;
                }
                (id, name.as_str().to_owned(), true)
            }
        };
        if let Some(old) = presented {
            db::sessions::delete(tx.exec(), old).await.map_err(internal)?;
        }
        let created_session = session::create(tx.exec(), &state.config.session, user_id, client)
            .await
            .map_err(internal)?;
        if created {
            let detail = format!("with {}", who.provider.label());
            audit::record(
                tx.exec(),
                client,
                Event::about(AuditKind::Signup, user_id, &username).detail(&detail),
            )
            .await
            .map_err(internal)?;
        }
        audit::record(
            tx.exec(),
            client,
            Event::about(AuditKind::LoginSuccess, user_id, &username).detail(who.provider.label()),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        tracing::info!(user_id, provider, created, "signed in with a provider");
        return Ok(created_session);
    }
    Err(AppError::conflict(
        "Could not create an account right now. Please try again.",
    ))
}

/// Disconnects a provider from a user, unless it is their last way to sign in.
pub async fn unlink(
    state: &AppState,
    client: &ClientInfo,
    user_id: i64,
    username: &str,
    provider: Provider,
) -> Result<(), AppError> {
    let mut tx = state.db.begin().await.map_err(internal)?;
    let user = users::find_by_id(tx.exec(), user_id)
        .await
        .map_err(internal)?
        .ok_or_else(AppError::unauthorized)?;
    let links = oauth::for_user(tx.exec(), user_id).await.map_err(internal)?;
    if !links.iter().any(|l| l.provider == provider.as_str()) {
        return Err(AppError::not_found(format!(
            "No {} account is connected.",
            provider.label()
        )));
    }
    if user.password_hash.is_none() && links.len() <= 1 {
        return Err(AppError::conflict(format!(
            "{} is your only way to sign in. Set a password first.",
            provider.label()
        )));
    }
    oauth::delete(tx.exec(), user_id, provider.as_str())
        .await
        .map_err(internal)?;
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::OauthUnlinked, user_id, username).detail(provider.label()),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    Ok(())
}
