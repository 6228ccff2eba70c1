//! The request context: what every service function is given.
//!
//! The session layer builds one [`RequestCtx`] per request (state, cookie jar, client,
//! the validated session it arrived with, request id) and leaves it in the request's
//! extensions. Axum handlers take it as an extractor; server functions read it with
//! [`RequestCtx::current`]; the command line makes one with [`RequestCtx::operator`].
//! Service functions take `&RequestCtx` plus their own arguments, and check the
//! caller's role through it.

use super::{
    http::{client::ClientInfo, csp, error_page},
    identity::session::Authenticated,
    state::AppState,
};
use crate::model::{role_at_least, AppError, Role};
use axum::{
    extract::FromRequestParts,
    response::{IntoResponse, Response},
};
use http::{request::Parts, StatusCode};
use leptos::prelude::{use_context, with_context};
use leptos_axum::ResponseOptions;
use std::{
    ops::Deref,
    sync::{Arc, Mutex},
};
use tower_cookies::Cookies;

/// One request, as services see it. Cloning it is one reference count.
#[derive(Clone, Debug)]
pub struct RequestCtx(Arc<Inner>);

/// What a [`RequestCtx`] holds.
#[derive(Debug)]
pub struct Inner {
    pub state: AppState,
    /// The response's cookie jar: what a service sets here reaches the browser.
    pub cookies: Cookies,
    pub client: ClientInfo,
    /// The validated session the request arrived with. A sign-in never reuses it.
    pub session: Option<Arc<Authenticated>>,
    /// The id the request-id layer gave the request (`None` on the command line).
    pub request_id: Option<String>,
    /// The moment the request is judged at, read once from the state's clock.
    pub now_ms: i64,
    caller: Caller,
    /// One-read cookies this request has read (see [`RequestCtx::read_once`]).
    read_once: Mutex<Vec<(&'static str, Option<String>)>>,
}

/// Who is on the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// A browser (or any HTTP client): a page or an API call.
    Browser {
        /// A plain HTML form post: answers are redirects, not JSON.
        wants_page: bool,
    },
    /// The operator at the command line.
    CommandLine,
}

/// Who asks for an administrative change.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A signed-in admin or owner; the role rules of docs/accounts.md "Roles" apply.
    User(&'a Authenticated),
    /// The operator at the command line: may do what an owner may, but the last owner
    /// still can't be demoted.
    Operator,
}

impl Deref for RequestCtx {
    type Target = Inner;

    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl RequestCtx {
    /// The context of an HTTP request (built by the session layer).
    pub fn for_request(
        state: AppState,
        cookies: Cookies,
        client: ClientInfo,
        session: Option<Arc<Authenticated>>,
        request_id: Option<String>,
        wants_page: bool,
        now_ms: i64,
    ) -> RequestCtx {
        RequestCtx(Arc::new(Inner {
            state,
            cookies,
            client,
            session,
            request_id,
            now_ms,
            caller: Caller::Browser { wants_page },
            read_once: Mutex::new(Vec::new()),
        }))
    }

    /// The context of a command-line command: no session, no cookies that go anywhere.
    pub fn operator(state: AppState) -> RequestCtx {
        let now_ms = state.clock.now_millis();
        RequestCtx(Arc::new(Inner {
            now_ms,
            state,
            cookies: Cookies::default(),
            client: ClientInfo {
                ip: None,
                user_agent: Some("gatehouse command line".to_owned()),
            },
            session: None,
            request_id: None,
            caller: Caller::CommandLine,
            read_once: Mutex::new(Vec::new()),
        }))
    }

    /// The context of the server function being run.
    pub fn current() -> Result<RequestCtx, AppError> {
        with_context::<Parts, _>(|parts| parts.extensions.get::<RequestCtx>().cloned())
            .flatten()
            .ok_or_else(|| {
                tracing::error!("the request context is missing: is the session layer in place?");
                AppError::internal("unknown")
            })
    }

    /// The moment the request is judged at, in Unix seconds.
    pub fn now(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// The signed-in user's session, or 401.
    pub fn user(&self) -> Result<&Arc<Authenticated>, AppError> {
        self.session.as_ref().ok_or_else(AppError::unauthorized)
    }

    /// The signed-in user's session if their role is at least `required`: 401 when
    /// signed out, 403 when the role is too low.
    /// While viewing as another user, nothing that needs an admin is allowed.
    pub fn require_role(&self, required: Role) -> Result<&Arc<Authenticated>, AppError> {
        let auth = self.user()?;
        if auth.impersonator.is_some() && required >= Role::Admin {
            return Err(AppError::viewing_as());
        }
        if role_at_least(required, auth.user.role) {
            Ok(auth)
        } else {
            Err(AppError::forbidden())
        }
    }

    /// The signed-in user's session if its holder proved it was them within
    /// `GATEHOUSE_REAUTH_WINDOW` (the sign-in, or a confirmation on `/reauth`): what
    /// changing how the account signs in needs. 401 when signed out; otherwise the
    /// "confirm it's you" answer, which sends the browser to `/reauth`. Refused (403)
    /// while an administrator views as the user: nobody there can prove to be them.
    pub fn require_recent(&self) -> Result<&Arc<Authenticated>, AppError> {
        let auth = self.user()?;
        if auth.impersonator.is_some() {
            return Err(AppError::viewing_as());
        }
        let window = i64::try_from(self.state.config.reauth_window.as_secs()).unwrap_or(i64::MAX);
        if crate::server::identity::factors::is_recent(auth.confirmed_at, window, self.now()) {
            Ok(auth)
        } else {
            Err(AppError::reauth_required())
        }
    }

    /// True when [`RequestCtx::require_recent`] would let the user through.
    pub fn recently_authenticated(&self) -> bool {
        self.require_recent().is_ok()
    }

    /// True when a user of `role` must use two-factor sign-in (`GATEHOUSE_REQUIRE_2FA`).
    pub fn second_factor_required_for(&self, role: Role) -> bool {
        self.state
            .config
            .require_2fa
            .is_some_and(|required| role >= required)
    }

    /// Who is acting: the operator on the command line, or a signed-in user whose role
    /// is at least `required` (401 / 403 otherwise).
    pub fn actor(&self, required: Role) -> Result<Actor<'_>, AppError> {
        match self.caller {
            Caller::CommandLine => Ok(Actor::Operator),
            Caller::Browser { .. } => self.require_role(required).map(|auth| Actor::User(auth)),
        }
    }

    /// The value of a one-read cookie: the first call reads it and has `clear` remove it
    /// from the browser; later calls in the same request give the same value (a page's
    /// render may ask more than once).
    pub fn read_once(&self, name: &'static str, clear: impl FnOnce(&Cookies)) -> Option<String> {
        let mut read = self
            .read_once
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, value)) = read.iter().find(|(n, _)| *n == name) {
            return value.clone();
        }
        let value = self.cookies.get(name).map(|c| c.value().to_owned());
        if value.is_some() {
            clear(&self.cookies);
        }
        read.push((name, value.clone()));
        value
    }

    /// True for a plain HTML form post (no JavaScript): the browser wants a page back.
    pub fn wants_page(&self) -> bool {
        matches!(self.caller, Caller::Browser { wants_page: true })
    }

    /// Where the browser goes after a successful action. A plain form post gets a real
    /// redirect (POST → redirect → GET); a JavaScript caller gets the path back and
    /// navigates client-side after refreshing what changed.
    pub fn continue_to(&self, path: &str) -> String {
        if self.wants_page() {
            leptos_axum::redirect(path);
        }
        path.to_owned()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestCtx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<RequestCtx>().cloned().ok_or_else(|| {
            tracing::error!(path = %parts.uri.path(), "the request context is missing");
            error_page::render(StatusCode::INTERNAL_SERVER_ERROR, None).into_response()
        })
    }
}

/// The shared application state, for code that needs nothing else of the request.
pub fn state() -> Result<AppState, AppError> {
    use_context::<AppState>().ok_or_else(|| {
        tracing::error!("the application state is missing from the request context");
        AppError::internal("unknown")
    })
}

/// The request id of the request being handled: the task's (every handler), else the
/// one in the Leptos context (a page's render may run on a task of its own); `unknown`
/// outside a request.
pub fn request_id() -> String {
    crate::server::http::request_id::current()
        .or_else(|| {
            with_context::<Parts, _>(|p| {
                p.extensions
                    .get::<RequestCtx>()
                    .and_then(|ctx| ctx.request_id.clone())
            })
            .flatten()
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Sets the Content-Security-Policy of the page being rendered (the HTML shell calls it).
pub fn set_page_policy() {
    if let Some(response) = use_context::<ResponseOptions>() {
        let state = use_context::<AppState>();
        csp::set_page_policy(&response, state.as_ref().map(|s| &s.config));
    }
}
