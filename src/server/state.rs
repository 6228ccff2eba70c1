//! The state every request shares.

use super::{
    auth::{cookie::SessionCookie, oauth::OAuth, password::PasswordHasher, relying_party::RelyingParty},
    config::Config,
    db::Db,
    keys::Keys,
    site::{files::SiteFiles, page_cache::PageCache},
};
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::{ops::Deref, sync::Arc};

/// Shared application state: configuration, pool, hasher, OAuth clients, keys. Cloning it is
/// one reference count: it is cloned into the context of every request.
#[derive(Clone, Debug)]
pub struct AppState(Arc<Shared>);

/// What [`AppState`] holds.
#[derive(Debug)]
pub struct Shared {
    pub config: Config,
    /// The one clock (see [`super::clock`]).
    pub clock: super::clock::Clock,
    pub db: Db,
    pub hasher: PasswordHasher,
    pub cookie: SessionCookie,
    pub oauth: OAuth,
    /// The breached-password check, when it is on.
    pub breached: Option<super::auth::password::breached::BreachedCheck>,
    /// Sends the mail queue (SMTP, or the outbox directory).
    pub mailer: super::mail::transport::Mailer,
    /// The WebAuthn relying party (none with an IP-address public URL).
    pub passkeys: RelyingParty,
    /// Seals what the browser carries that is not a session (flows, flash values).
    pub keys: Keys,
    /// Rendered pages kept for reuse.
    pub page_cache: Arc<PageCache>,
    /// The addresses of the site's built files (hashed names when the build has them).
    pub files: Arc<SiteFiles>,
    pub leptos_options: LeptosOptions,
}

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}
