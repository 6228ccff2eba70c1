//! The application: HTML shell, root component, route table and the auth context.

use crate::{
    api::auth::current_user,
    components::{footer::Footer, nav::NavBar, verify_banner::VerifyBanner, view_as_banner::ViewAsBanner},
    model::{AppError, SessionUser, DEFAULT_APP_NAME},
    pages::{
        admin::AdminPage,
        email::{ForgotPasswordPage, ResetPasswordPage, VerifyEmailPage},
        home::HomePage,
        login::LoginPage,
        members::MembersPage,
        not_found::NotFound,
        profile::ProfilePage,
        reauth::ReauthPage,
        security::SecuritySettingsPage,
        settings::{AccountSettingsPage, SessionSettingsPage},
        signup::SignupPage,
        two_factor::TwoFactorPage,
    },
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    path, SsrMode,
};
use std::sync::Arc;

/// The HTML document around the app, rendered on the server for every page.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::server::context::set_page_policy();
    let app_name = AppName::read();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Where the browser's copy of the app learns its name (see `AppName`).
                <meta name="application-name" content=app_name.0.to_string() />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                // Passkeys (WebAuthn calls); a module, so it runs after the document is
                // parsed. Every script of a page carries the response's nonce.
                <script type="module" src="/passkeys.js" nonce=leptos::nonce::use_nonce()></script>
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// The app's name (`GATEHOUSE_APP_NAME`): titles, the navigation bar, the footer.
#[derive(Clone, Debug)]
pub struct AppName(pub Arc<str>);

impl AppName {
    /// On the server, the configured name; in the browser, the one the server wrote into
    /// the page's `<meta name="application-name">`, so both render the same.
    fn read() -> AppName {
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
    pub user: Resource<Result<Option<SessionUser>, AppError>>,
    version: RwSignal<u64>,
}

impl AuthContext {
    fn provide() -> AuthContext {
        let version = RwSignal::new(0u64);
        let user = Resource::new(move || version.get(), |_| current_user());
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    AuthContext::provide();
    let app_name = AppName::read();
    provide_context(app_name.clone());
    // Every page's title ends with the app's name; a page without a title of its own
    // (the home page) is titled with the name alone.
    let name = app_name.0;
    let title = move |text: String| {
        if text.is_empty() {
            name.to_string()
        } else {
            format!("{text} · {name}")
        }
    };

    view! {
        <Title formatter=title text="" />
        <Stylesheet id="leptos" href="/pkg/gatehouse.css" />
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg" />
        <Meta name="color-scheme" content="light dark" />
        <Router>
            <div class="shell">
                <a class="skip-link" href="#main">"Skip to content"</a>
                <ViewAsBanner />
                <NavBar />
                <VerifyBanner />
                <main id="main" class="main">
                    <Routes fallback=|| view! { <NotFound /> }>
                        <Route path=path!("") view=HomePage ssr=SsrMode::Async />
                        <Route path=path!("signup") view=SignupPage ssr=SsrMode::Async />
                        <Route path=path!("login") view=LoginPage ssr=SsrMode::Async />
                        <Route path=path!("profile") view=ProfilePage ssr=SsrMode::Async />
                        <Route path=path!("members") view=MembersPage ssr=SsrMode::Async />
                        <Route path=path!("admin") view=AdminPage ssr=SsrMode::Async />
                        <Route path=path!("settings/account") view=AccountSettingsPage ssr=SsrMode::Async />
                        <Route path=path!("settings/sessions") view=SessionSettingsPage ssr=SsrMode::Async />
                        <Route path=path!("settings/security") view=SecuritySettingsPage ssr=SsrMode::Async />
                        <Route path=path!("reauth") view=ReauthPage ssr=SsrMode::Async />
                        <Route path=path!("login/two-factor") view=TwoFactorPage ssr=SsrMode::Async />
                        <Route path=path!("forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async />
                        <Route path=path!("reset-password") view=ResetPasswordPage ssr=SsrMode::Async />
                        <Route path=path!("verify-email") view=VerifyEmailPage ssr=SsrMode::Async />
                    </Routes>
                </main>
                <Footer />
            </div>
        </Router>
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::App;
    use crate::page::Page;

    /// The router and the page table list the same pages: a `<Route>` without a table
    /// entry would be refused (or, outside the guarded areas, public by accident).
    #[tokio::test]
    async fn every_route_has_a_page_table_entry_and_every_entry_a_route() {
        let routes = leptos_axum::generate_route_list(App);
        let mut paths: Vec<String> = routes.iter().map(|r| r.path().to_owned()).collect();
        paths.sort();
        paths.dedup();
        for path in &paths {
            assert!(
                Page::at(path).is_some(),
                "<Route> {path} has no entry in the page table"
            );
        }
        for page in Page::ALL {
            assert!(
                paths.iter().any(|p| p == page.path()),
                "{page:?} ({}) has no <Route>",
                page.path()
            );
        }
    }
}
