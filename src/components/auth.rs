//! What every component may ask for: the signed-in user (the auth context, the
//! counterpart of an auth store) and the app's name. [`crate::app::App`] provides both.

use crate::{
    api::auth::current_user,
    model::{AppError, SessionUser, DEFAULT_APP_NAME},
};
use leptos::prelude::*;
use std::sync::Arc;

/// The app's name (`GATEHOUSE_APP_NAME`): titles, the navigation bar, the footer.
#[derive(Clone, Debug)]
pub struct AppName(pub Arc<str>);

impl AppName {
    /// On the server, the configured name; in the browser, the one the server wrote into
    /// the page's `<meta name="application-name">`, so both render the same.
    pub fn read() -> AppName {
        #[cfg(feature = "ssr")]
        let name = use_context::<crate::server::state::AppState>().map(|s| s.config.app_name.clone());
        #[cfg(all(feature = "hydrate", not(feature = "ssr")))]
        let name = document()
            .query_selector("meta[name=\"application-name\"]")
            .ok()
            .flatten()
            .and_then(|meta| meta.get_attribute("content"));
        #[cfg(not(any(feature = "ssr", feature = "hydrate")))]
        let name: Option<String> = None;
        AppName(name.as_deref().unwrap_or(DEFAULT_APP_NAME).into())
    }
}

/// The app's name provided by [`App`].
pub fn use_app_name() -> Arc<str> {
    use_context::<AppName>().map_or_else(|| DEFAULT_APP_NAME.into(), |name| name.0)
}

/// The current user, shared by every component (the counterpart of an auth store).
/// It is fetched once per page load and again after every sign-up, sign-in and sign-out.
#[derive(Clone, Copy)]
pub struct AuthContext {
    pub user: crate::model::Loaded<Result<Option<SessionUser>, AppError>>,
    version: RwSignal<u64>,
}

impl AuthContext {
    pub fn provide() -> AuthContext {
        let version = RwSignal::new(0u64);
        let user = crate::model::load(move || version.get(), |_| current_user());
        let context = AuthContext { user, version };
        provide_context(context);
        context
    }

    /// Fetches the current user again (after an action changed it).
    pub fn refresh(&self) {
        self.version.update(|v| *v += 1);
    }
}

/// The auth context provided by [`App`].
pub fn use_auth() -> AuthContext {
    expect_context::<AuthContext>()
}
