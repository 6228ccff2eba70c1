//! A scripted OAuth 2 / OpenID Connect provider on loopback: authorize, token (with
//! PKCE checked), GitHub's `/user` and Google's `/userinfo`.

use axum::{
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
    Form, Json, Router,
};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

pub const GITHUB_ID: &str = "gh-client-id";
pub const GITHUB_SECRET: &str = "gh-client-secret";
pub const GOOGLE_ID: &str = "google-client-id";
pub const GOOGLE_SECRET: &str = "google-client-secret";

/// What the provider does; tests change it between steps.
#[derive(Clone, Debug)]
pub struct Script {
    pub github_user: serde_json::Value,
    pub google_user: serde_json::Value,
    /// The user denies consent at the authorize step.
    pub deny: bool,
    pub token_status: u16,
    pub user_status: u16,
    pub user_body_raw: Option<String>,
    pub token_delay: Duration,
    /// Replaces the nonce in Google's ID token.
    pub id_token_nonce: Option<String>,
    /// A careless provider: a code may be traded more than once.
    pub codes_reusable: bool,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            github_user: serde_json::json!({
                "id": 583231, "login": "octocat", "name": "The Octocat",
                "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4"
            }),
            google_user: serde_json::json!({
                "sub": "109876543210", "name": "Ada Lovelace", "email": "ada@example.com",
                "email_verified": true, "picture": "https://lh3.googleusercontent.com/a/ada"
            }),
            deny: false,
            token_status: 200,
            user_status: 200,
            user_body_raw: None,
            token_delay: Duration::ZERO,
            id_token_nonce: None,
            codes_reusable: false,
        }
    }
}

struct Grant {
    client_id: String,
    challenge: String,
    nonce: Option<String>,
    used: bool,
}

#[derive(Default)]
struct Shared {
    script: Script,
    grants: HashMap<String, Grant>,
    tokens: HashMap<String, String>,
    counter: u64,
}

#[derive(Clone)]
pub struct FakeProvider {
    pub base: String,
    shared: Arc<Mutex<Shared>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for FakeProvider {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl FakeProvider {
    pub async fn start() -> FakeProvider {
        let shared: Arc<Mutex<Shared>> = Arc::default();
        let router = Router::new()
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/user", get(user))
            .route("/userinfo", get(user))
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake provider");
        let addr: SocketAddr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        FakeProvider {
            base: format!("http://{addr}"),
            shared,
            task: Arc::new(task),
        }
    }

    /// Changes the script.
    pub fn script(&self, change: impl FnOnce(&mut Script)) {
        change(&mut self.shared.lock().expect("lock").script);
    }

    /// The configuration that points Gatehouse at this provider.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GITHUB_CLIENT_ID", GITHUB_ID.to_owned()),
            ("GITHUB_CLIENT_SECRET", GITHUB_SECRET.to_owned()),
            ("GATEHOUSE_GITHUB_AUTH_URL", format!("{}/authorize", self.base)),
            ("GATEHOUSE_GITHUB_TOKEN_URL", format!("{}/token", self.base)),
            ("GATEHOUSE_GITHUB_API_URL", self.base.clone()),
            ("GOOGLE_CLIENT_ID", GOOGLE_ID.to_owned()),
            ("GOOGLE_CLIENT_SECRET", GOOGLE_SECRET.to_owned()),
            ("GATEHOUSE_GOOGLE_AUTH_URL", format!("{}/authorize", self.base)),
            ("GATEHOUSE_GOOGLE_TOKEN_URL", format!("{}/token", self.base)),
            ("GATEHOUSE_GOOGLE_USERINFO_URL", format!("{}/userinfo", self.base)),
            ("GATEHOUSE_OAUTH_TIMEOUT", "1s".to_owned()),
        ]
    }
}

type S = State<Arc<Mutex<Shared>>>;

async fn authorize(State(shared): S, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut s = shared.lock().expect("lock");
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    let state = q.get("state").cloned().unwrap_or_default();
    if q.get("code_challenge_method").map(String::as_str) != Some("S256") || !q.contains_key("code_challenge")
    {
        return (StatusCode::BAD_REQUEST, "PKCE with S256 is required").into_response();
    }
    if s.script.deny {
        return Redirect::to(&format!("{redirect}?error=access_denied&state={state}")).into_response();
    }
    s.counter += 1;
    let code = format!("code-{}", s.counter);
    s.grants.insert(
        code.clone(),
        Grant {
            client_id: q.get("client_id").cloned().unwrap_or_default(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            nonce: q.get("nonce").cloned(),
            used: false,
        },
    );
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

fn client_from_basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((urlencoding_decode(id), urlencoding_decode(secret)))
}

fn urlencoding_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

async fn token(State(shared): S, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> Response {
    let delay = shared.lock().expect("lock").script.token_delay;
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mut guard = shared.lock().expect("lock");
    let s = &mut *guard;
    if s.script.token_status != 200 {
        return (
            StatusCode::from_u16(s.script.token_status).expect("status"),
            "provider trouble",
        )
            .into_response();
    }
    let invalid = |what: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": "invalid_grant", "error_description": what})),
        )
            .into_response()
    };
    let Some((client_id, secret)) = client_from_basic(&headers) else {
        return invalid("no client authentication");
    };
    let expected = if client_id == GITHUB_ID {
        GITHUB_SECRET
    } else {
        GOOGLE_SECRET
    };
    if secret != expected {
        return invalid("bad client secret");
    }
    let code = form.get("code").cloned().unwrap_or_default();
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let Some(grant) = s.grants.get_mut(&code) else {
        return invalid("unknown code");
    };
    if grant.used && !s.script.codes_reusable {
        return invalid("code already used");
    }
    grant.used = true;
    if grant.client_id != client_id {
        return invalid("code of another client");
    }
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if challenge != grant.challenge {
        return invalid("PKCE verifier does not match");
    }
    let nonce = s.script.id_token_nonce.clone().or_else(|| grant.nonce.clone());
    let access = format!("token-{code}");
    s.tokens.insert(access.clone(), client_id.clone());
    let mut body = serde_json::json!({"access_token": access, "token_type": "bearer", "scope": "read:user"});
    if client_id == GOOGLE_ID {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let sub = s.script.google_user["sub"].clone();
        let claims = serde_json::json!({
            "iss": "https://accounts.google.com", "sub": sub, "aud": GOOGLE_ID,
            "exp": crate::helpers::now() + 300, "nonce": nonce
        });
        body["id_token"] = serde_json::Value::String(format!(
            "{}.{}.signature",
            engine.encode(b"{\"alg\":\"RS256\"}"),
            engine.encode(claims.to_string())
        ));
    }
    Json(body).into_response()
}

async fn user(State(shared): S, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let s = shared.lock().expect("lock");
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !s.tokens.contains_key(token) {
        return (StatusCode::UNAUTHORIZED, "bad token").into_response();
    }
    if s.script.user_status != 200 {
        return (
            StatusCode::from_u16(s.script.user_status).expect("status"),
            "provider trouble",
        )
            .into_response();
    }
    if let Some(raw) = &s.script.user_body_raw {
        return ([("content-type", "application/json")], raw.clone()).into_response();
    }
    let body = if uri.path() == "/userinfo" {
        s.script.google_user.clone()
    } else {
        s.script.github_user.clone()
    };
    Json(body).into_response()
}
