//! Rendered pages kept for reuse.
//!
//! Rendering a page with Leptos costs several times more than everything else a request
//! does (session check included). Some pages are a pure function of their path, the
//! signed-in user and the configuration: the page table marks them cacheable
//! (`Page::cacheable` in `src/page.rs`). Their HTML is kept,
//! keyed by the path and the whole user record the session layer has just read from the
//! database. A new name, role or avatar is a new key, never a stale page, and one user's
//! page can only ever be the answer to that same user.
//!
//! The one part of such a page that must differ between two responses is the CSP nonce
//! on its scripts. The kept copy remembers where the nonce it was rendered with appears;
//! every reuse writes a fresh nonce there and sends the matching policy. The nonce of the
//! render was random and unknown until the page was rendered, so no text a user supplied
//! can contain it.
//!
//! Only a `GET` without a query string is served from or stored in the cache, and only a
//! 200 answer whose headers are the two rendering sets (type and policy). The session and
//! guard layers run before this one on every request, cached or not.
//!
//! Debug builds (the dev server and every test run) check the list: each reuse also
//! renders the page afresh and stops with a panic if the two differ beyond the nonce —
//! a page marked cacheable that reads anything else fails the test suite the first time
//! it is served twice.

use crate::{model::SessionUser, page::Page, server::identity::session::CurrentSession};
use axum::{
    body::Body,
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use leptos::nonce::Nonce;
use quick_cache::{sync::Cache, Weighter};
use std::{
    fmt,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
};

/// Larger pages are answered but not kept.
const MAX_PAGE_BYTES: usize = 256 * 1024;

/// The policy for a nonce: what the page sends as `Content-Security-Policy`.
type PolicyFn = dyn Fn(&str) -> String + Send + Sync;

/// How a kept page is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reuse {
    /// Rendered afresh as well, and required to be the same page (debug builds).
    Checked,
    /// Answered from the kept copy alone (release builds).
    Trusted,
}

/// The cache and how to write a page's policy for a fresh nonce.
pub struct PageCache {
    pages: Option<Cache<Key, Arc<Kept>, PageWeight>>,
    policy: Box<PolicyFn>,
    /// True while reuse is [`Reuse::Checked`].
    check_reuse: AtomicBool,
    /// Answers given from a kept page.
    hits: AtomicU64,
    /// Listed pages that had to be rendered (not kept yet, or not reusable).
    misses: AtomicU64,
}

impl fmt::Debug for PageCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PageCache")
            .field("pages", &self.pages.as_ref().map(Cache::len))
            .finish_non_exhaustive()
    }
}

impl PageCache {
    /// A cache holding up to `bytes` of pages (`0`: keep nothing); `policy` gives the
    /// page policy for a nonce.
    pub fn new(bytes: u64, policy: impl Fn(&str) -> String + Send + Sync + 'static) -> PageCache {
        let pages = (bytes > 0).then(|| {
            // A typical page is a few kilobytes; the estimate only sizes the tables.
            let estimated_pages = usize::try_from(bytes / 4096)
                .unwrap_or(usize::MAX)
                .clamp(16, 1 << 20);
            Cache::with_weighter(estimated_pages, bytes, PageWeight)
        });
        PageCache {
            pages,
            policy: Box::new(policy),
            check_reuse: AtomicBool::new(cfg!(debug_assertions)),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cache with reuse `reuse` (checked in debug builds, trusted in release ones).
    pub fn with_reuse(self, reuse: Reuse) -> PageCache {
        self.set_reuse(reuse);
        self
    }

    /// Switches how kept pages are reused (tests of the release path in a debug build).
    pub fn set_reuse(&self, reuse: Reuse) {
        self.check_reuse.store(reuse == Reuse::Checked, Ordering::Relaxed);
    }

    /// How many answers came from a kept page.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }

    /// How many listed pages had to be rendered.
    pub fn misses(&self) -> u64 {
        self.misses.load(Ordering::Relaxed)
    }

    /// The page for `page` with a fresh nonce, or `None` when its policy is unusable.
    fn answer(&self, page: &Kept) -> Option<Response> {
        let nonce = Nonce::new();
        let policy = HeaderValue::from_str(&(self.policy)(&nonce)).ok()?;
        let mut response = Response::new(Body::from(page.with_nonce(&nonce)));
        *response.headers_mut() = page.headers.clone();
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
        Some(response)
    }
}

/// What a kept page is found by.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    path: &'static str,
    user: Option<SessionUser>,
}

impl Key {
    /// The key of a request that may be answered from the cache.
    fn of(req: &Request) -> Option<Key> {
        if req.method() != Method::GET || req.uri().query().is_some() {
            return None;
        }
        let path = Page::at(req.uri().path())
            .filter(|page| page.cacheable() && page.path() == req.uri().path())?
            .path();
        // No session layer in front of us: nothing is known about the user, keep nothing.
        let auth = req.extensions().get::<CurrentSession>()?;
        Some(Key {
            path,
            user: auth.0.as_ref().map(|a| a.user.clone()),
        })
    }

    fn size(&self) -> usize {
        self.user.as_ref().map_or(0, |u| {
            u.username.len()
                + u.display_name.as_ref().map_or(0, String::len)
                + u.avatar_url.as_ref().map_or(0, String::len)
        })
    }
}

/// A rendered page, cut where its nonce appears.
struct Kept {
    /// The headers of the render without the policy.
    headers: HeaderMap,
    /// The page's text between nonces: one more part than there are nonces.
    parts: Vec<String>,
}

impl Kept {
    fn new(headers: HeaderMap, html: &str, nonce: &str) -> Kept {
        Kept {
            headers,
            parts: html.split(nonce).map(str::to_owned).collect(),
        }
    }

    fn with_nonce(&self, nonce: &str) -> String {
        let length = self.parts.iter().map(String::len).sum::<usize>()
            + nonce.len() * self.parts.len().saturating_sub(1);
        let mut html = String::with_capacity(length);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                html.push_str(nonce);
            }
            html.push_str(part);
        }
        html
    }

    fn size(&self) -> usize {
        self.parts.iter().map(|p| p.len() + 24).sum::<usize>() + 256
    }
}

#[derive(Clone)]
struct PageWeight;

impl Weighter<Key, Arc<Kept>> for PageWeight {
    fn weight(&self, key: &Key, page: &Arc<Kept>) -> u64 {
        u64::try_from(key.size() + page.size()).unwrap_or(u64::MAX)
    }
}

/// The nonce a page policy allows scripts with.
fn nonce_in(policy: &str) -> Option<&str> {
    let start = policy.find("'nonce-")? + "'nonce-".len();
    let length = policy[start..].find('\'')?;
    Some(&policy[start..start + length]).filter(|n| !n.is_empty())
}

/// The nonce a rendered page was given, when it is a 200 page with a nonce policy.
fn page_nonce(response: &Response) -> Option<String> {
    if response.status() != StatusCode::OK {
        return None;
    }
    response
        .headers()
        .get(header::CONTENT_SECURITY_POLICY)
        .and_then(|v| v.to_str().ok())
        .and_then(nonce_in)
        .map(str::to_owned)
}

/// A rendered page's text, or the error page when it cannot be read. The app renders
/// the whole page before answering: this only gathers its chunks.
async fn page_bytes(body: Body) -> Result<axum::body::Bytes, Response> {
    axum::body::to_bytes(body, usize::MAX).await.map_err(|err| {
        tracing::error!(error = %err, "a rendered page could not be read");
        crate::server::http::error_page::render(StatusCode::INTERNAL_SERVER_ERROR, None)
    })
}

/// The layer: answers a listed page from the cache, or renders it and keeps it.
pub async fn serve(State(cache): State<Arc<PageCache>>, req: Request, next: Next) -> Response {
    let Some(pages) = &cache.pages else {
        return next.run(req).await;
    };
    let Some(key) = Key::of(&req) else {
        return next.run(req).await;
    };
    if let Some(page) = pages.get(&key) {
        if cache.check_reuse.load(Ordering::Relaxed) {
            return checked_reuse(&cache, &page, key.path, req, next).await;
        }
        if let Some(response) = cache.answer(&page) {
            cache.hits.fetch_add(1, Ordering::Relaxed);
            return response;
        }
    }
    cache.misses.fetch_add(1, Ordering::Relaxed);
    let response = next.run(req).await;
    let keepable = response
        .headers()
        .keys()
        .all(|name| name == header::CONTENT_TYPE || name == header::CONTENT_SECURITY_POLICY);
    let (Some(nonce), true) = (page_nonce(&response), keepable) else {
        return response;
    };
    let (parts, body) = response.into_parts();
    let bytes = match page_bytes(body).await {
        Ok(bytes) => bytes,
        Err(error_page) => return error_page,
    };
    if bytes.len() <= MAX_PAGE_BYTES {
        if let Ok(html) = std::str::from_utf8(&bytes) {
            let mut headers = parts.headers.clone();
            headers.remove(header::CONTENT_SECURITY_POLICY);
            pages.insert(key, Arc::new(Kept::new(headers, html, &nonce)));
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Answers from the kept `page` after rendering the request afresh and requiring the
/// same HTML apart from the nonce. Panics otherwise: the page must not be marked
/// cacheable. A fresh render that is not a plain 200 page is answered as is.
async fn checked_reuse(cache: &PageCache, page: &Kept, path: &str, req: Request, next: Next) -> Response {
    let fresh = next.run(req).await;
    let Some(nonce) = page_nonce(&fresh) else {
        return fresh;
    };
    let (parts, body) = fresh.into_parts();
    let bytes = match page_bytes(body).await {
        Ok(bytes) => bytes,
        Err(error_page) => return error_page,
    };
    let kept = page.with_nonce(&nonce);
    assert!(
        bytes == kept.as_bytes(),
        "the page cache answered {path} with HTML that a fresh render no longer gives for \
         the same user: a page that reads anything beyond its path and user must not be \
         marked cacheable in the page table"
    );
    cache
        .answer(page)
        .unwrap_or_else(|| Response::from_parts(parts, Body::from(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{model::Role, server::identity::session::Authenticated};
    use axum::{middleware::from_fn_with_state, routing::get, Router};
    use std::sync::atomic::AtomicUsize;
    use tower::ServiceExt;

    fn policy(nonce: &str) -> String {
        format!("script-src 'nonce-{nonce}'")
    }

    fn user(name: &str, role: Role) -> SessionUser {
        SessionUser {
            id: 7,
            username: name.to_owned(),
            role,
            display_name: None,
            avatar_url: None,
            created_at: 0,
            email_unverified: false,
            viewed_by: None,
        }
    }

    /// A router whose pages count their renders, behind the cache and a stand-in for the
    /// session layer (the `x-user` header names the signed-in user).
    fn app(bytes: u64, renders: Arc<AtomicUsize>) -> Router {
        app_with(
            PageCache::new(bytes, policy).with_reuse(Reuse::Trusted),
            renders,
            false,
        )
    }

    /// [`app`] with a given cache; `impure` pages also show how many renders came before.
    fn app_with(cache: PageCache, renders: Arc<AtomicUsize>, impure: bool) -> Router {
        let page = move |req: Request| {
            let renders = renders.clone();
            async move {
                let before = renders.fetch_add(1, Ordering::SeqCst);
                let impurity = if impure {
                    format!(" render {before}")
                } else {
                    String::new()
                };
                let nonce = Nonce::new();
                let who = req
                    .extensions()
                    .get::<CurrentSession>()
                    .and_then(|a| {
                        a.0.as_ref()
                            .map(|a| format!("{}:{:?}", a.user.username, a.user.role))
                    })
                    .unwrap_or_else(|| "anonymous".to_owned());
                let status = if req.uri().path() == "/members" {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::OK
                };
                Response::builder()
                    .status(status)
                    .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
                    .header(header::CONTENT_SECURITY_POLICY, policy(&nonce))
                    .body(Body::from(format!(
                        "<p>{who} {}{impurity}</p><script nonce=\"{nonce}\"></script><script nonce=\"{nonce}\"></script>",
                        req.uri()
                    )))
                    .expect("response")
            }
        };
        let session = |mut req: Request, next: Next| async move {
            let user = req
                .headers()
                .get("x-user")
                .and_then(|v| v.to_str().ok())
                .map(|v| {
                    let (name, role) = v.split_once(':').unwrap_or((v, "user"));
                    Arc::new(Authenticated {
                        session_id: "s".to_owned(),
                        session_handle: "h".to_owned(),
                        signed_in_at: 0,
                        confirmed_at: 0,
                        two_factor: false,
                        has_passkey: false,
                        user: user(name, role.parse().unwrap_or(Role::User)),
                        impersonator: None,
                    })
                });
            req.extensions_mut().insert(CurrentSession(user));
            next.run(req).await
        };
        Router::new()
            .route("/", get(page.clone()))
            .route("/profile", get(page.clone()))
            .route("/members", get(page.clone()))
            .route("/admin", get(page))
            .layer(from_fn_with_state(Arc::new(cache), serve))
            .layer(axum::middleware::from_fn(session))
    }

    async fn fetch(app: &Router, uri: &str, user: Option<&str>) -> (StatusCode, String, String) {
        let mut req = Request::builder().uri(uri);
        if let Some(user) = user {
            req = req.header("x-user", user);
        }
        let response = app
            .clone()
            .oneshot(req.body(Body::empty()).expect("request"))
            .await
            .expect("response");
        let status = response.status();
        let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .expect("policy")
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, policy, String::from_utf8(body.to_vec()).expect("utf-8"))
    }

    #[tokio::test]
    async fn a_listed_page_is_rendered_once_and_answered_with_a_fresh_nonce_each_time() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(1 << 20, renders.clone());
        let mut nonces = Vec::new();
        let mut bodies = Vec::new();
        for _ in 0..3 {
            let (status, policy, body) = fetch(&app, "/profile", Some("ada")).await;
            assert_eq!(status, StatusCode::OK);
            let nonce = nonce_in(&policy).expect("nonce in policy").to_owned();
            assert_eq!(body.matches(&format!("nonce=\"{nonce}\"")).count(), 2, "{body}");
            bodies.push(body.replace(&nonce, "N"));
            nonces.push(nonce);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1, "rendered once");
        assert!(bodies.iter().all(|b| *b == bodies[0]), "{bodies:?}");
        assert!(bodies[0].contains("ada:User"));
        nonces.sort();
        nonces.dedup();
        assert_eq!(nonces.len(), 3, "every answer has its own nonce");
    }

    #[tokio::test]
    async fn each_user_and_each_version_of_a_user_has_its_own_page() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(1 << 20, renders.clone());
        assert!(fetch(&app, "/profile", Some("ada")).await.2.contains("ada:User"));
        assert!(fetch(&app, "/profile", Some("bob")).await.2.contains("bob:User"));
        assert!(fetch(&app, "/profile", Some("ada:admin"))
            .await
            .2
            .contains("ada:Admin"));
        assert!(fetch(&app, "/profile", None).await.2.contains("anonymous"));
        assert!(fetch(&app, "/", Some("ada")).await.2.contains("ada:User"));
        assert_eq!(renders.load(Ordering::SeqCst), 5);
        assert!(fetch(&app, "/profile", Some("bob")).await.2.contains("bob:User"));
        assert!(fetch(&app, "/profile", Some("ada")).await.2.contains("ada:User"));
        assert_eq!(renders.load(Ordering::SeqCst), 5, "all five kept");
    }

    #[tokio::test]
    async fn queries_unlisted_pages_and_other_statuses_are_always_rendered() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(1 << 20, renders.clone());
        for _ in 0..2 {
            let (_, _, body) = fetch(&app, "/profile?tab=1", Some("ada")).await;
            assert!(body.contains("/profile?tab=1"), "{body}");
            let (_, _, body) = fetch(&app, "/admin", Some("ada")).await;
            assert!(body.contains("ada:User"), "{body}");
            let (status, _, _) = fetch(&app, "/members", Some("ada")).await;
            assert_eq!(status, StatusCode::FORBIDDEN);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 6, "nothing kept");
    }

    #[tokio::test]
    async fn a_cache_of_zero_bytes_keeps_nothing() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app(0, renders.clone());
        for _ in 0..2 {
            let (status, policy, body) = fetch(&app, "/profile", Some("ada")).await;
            assert_eq!(status, StatusCode::OK);
            let nonce = nonce_in(&policy).expect("nonce");
            assert!(body.contains(nonce));
        }
        assert_eq!(renders.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_checked_reuse_renders_again_and_answers_with_a_fresh_nonce() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app_with(
            PageCache::new(1 << 20, policy).with_reuse(Reuse::Checked),
            renders.clone(),
            false,
        );
        let mut nonces = Vec::new();
        for _ in 0..3 {
            let (status, policy, body) = fetch(&app, "/profile", Some("ada")).await;
            assert_eq!(status, StatusCode::OK);
            let nonce = nonce_in(&policy).expect("nonce").to_owned();
            assert_eq!(body.matches(&format!("nonce=\"{nonce}\"")).count(), 2, "{body}");
            nonces.push(nonce);
        }
        assert_eq!(renders.load(Ordering::SeqCst), 3, "every reuse rendered again");
        nonces.dedup();
        assert_eq!(nonces.len(), 3);
    }

    #[tokio::test]
    #[should_panic(expected = "must not be marked cacheable")]
    async fn a_checked_reuse_of_a_page_that_changes_between_renders_panics() {
        let renders = Arc::new(AtomicUsize::new(0));
        let app = app_with(
            PageCache::new(1 << 20, policy).with_reuse(Reuse::Checked),
            renders,
            true,
        );
        fetch(&app, "/profile", Some("ada")).await;
        fetch(&app, "/profile", Some("ada")).await;
    }

    #[test]
    fn reuse_is_checked_exactly_in_debug_builds() {
        assert_eq!(
            PageCache::new(1 << 20, policy)
                .check_reuse
                .load(Ordering::Relaxed),
            cfg!(debug_assertions)
        );
    }

    #[test]
    fn the_nonce_is_read_from_the_policy() {
        assert_eq!(
            nonce_in("default-src 'self'; script-src 'self' 'nonce-abc+/=' 'wasm-unsafe-eval'"),
            Some("abc+/=")
        );
        assert_eq!(nonce_in("script-src 'self'"), None);
        assert_eq!(nonce_in("script-src 'nonce-'"), None);
        assert_eq!(nonce_in("script-src 'nonce-abc"), None);
    }

    #[test]
    fn a_page_is_cut_at_every_nonce_and_joined_with_another() {
        let page = Kept::new(HeaderMap::new(), "aXXbXXcXX", "XX");
        assert_eq!(page.with_nonce("nn"), "annbnncnn");
        let page = Kept::new(HeaderMap::new(), "no scripts", "XX");
        assert_eq!(page.with_nonce("nn"), "no scripts");
    }
}
