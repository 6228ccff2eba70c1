//! The application: HTML shell, root component and route table.

use crate::{
    components::{
        auth::{AppName, AuthContext},
        footer::Footer,
        nav::NavBar,
        verify_banner::VerifyBanner,
        view_as_banner::ViewAsBanner,
    },
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
#[cfg(feature = "ssr")]
use leptos_meta::MetaTags;
use leptos_meta::{provide_meta_context, Link, Meta, Title};
use leptos_router::{
    components::{Route, Router, Routes},
    lazy_route, path, Lazy, LazyRoute, SsrMode,
};
#[cfg(feature = "ssr")]
use std::sync::Arc;

/// The HTML document around the app, rendered on the server for every page.
#[cfg(feature = "ssr")]
pub fn shell(options: LeptosOptions) -> impl IntoView {
    crate::server::context::set_page_policy();
    let app_name = AppName::read();
    let files = use_context::<crate::server::state::AppState>().map_or_else(
        || Arc::new(crate::server::site::files::SiteFiles::plain(&options)),
        |state| state.files.clone(),
    );
    // In a split build: which pieces each page split out of the main bundle needs
    // (`preload_pieces`).
    if let Some(split) = &files.split {
        provide_context(split.clone());
    }
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                // Where the browser's copy of the app learns its name (see `AppName`).
                <meta name="application-name" content=app_name.0.to_string() />
                <link rel="stylesheet" id="leptos" href=files.css.clone() />
                <AutoReload options />
                <Bundle files />
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

/// Loads the app: the wasm-bindgen module and the WebAssembly file (both fetched early,
/// in parallel), then hydrates the page. The names are the build's (content-hashed when it
/// has them), read once at start-up; the script carries the response's nonce.
#[cfg(feature = "ssr")]
#[component]
fn Bundle(files: Arc<crate::server::site::files::SiteFiles>) -> impl IntoView {
    view! {
        <link rel="modulepreload" href=files.js.clone() />
        <link rel="preload" href=files.wasm.clone() r#as="fetch" r#type="application/wasm" crossorigin="" />
        <script type="module" nonce=leptos::nonce::use_nonce()>{files.loader.clone()}</script>
    }
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
                        <Route path=path!("admin") view={Lazy::<AdminRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("settings/account") view={Lazy::<AccountSettingsRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("settings/sessions") view={Lazy::<SessionSettingsRoute>::new()} ssr=SsrMode::Async />
                        <Route path=path!("settings/security") view={Lazy::<SecuritySettingsRoute>::new()} ssr=SsrMode::Async />
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

// The signed-in settings pages and the admin page are split out of the browser's main
// bundle (`cargo leptos build --split`): their code is fetched when one of them is shown,
// so the first load of every other page leaves it out. A direct load of one of them
// fetches its pieces before hydrating (`lib.rs`), preloaded by links in the page.

/// On the server, in a split build: preload links for the pieces of the split page whose
/// route type is `route` in snake case. (leptos names a lazy route's view
/// `__<route>_view_<number>` in the build's manifest.)
fn preload_pieces(route: &str) {
    #[cfg(feature = "ssr")]
    {
        use leptos::prelude::WithValue;
        let Some(split) = use_context::<leptos::WasmSplitManifest>() else {
            return;
        };
        let prefix = format!("__{route}_view_");
        let pieces: Vec<String> = split.0.with_value(|(root, manifest, _)| {
            manifest
                .iter()
                .filter(|(name, _)| {
                    name.strip_prefix(&prefix)
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
                .flat_map(|(_, pieces)| pieces.iter().map(move |piece| format!("{root}/{piece}.wasm")))
                .collect()
        });
        for href in pieces {
            // Registered with the page's <head> (as leptos' own preloads are).
            let _ = view! { <Link rel="preload" href=href as_="fetch" type_="application/wasm" crossorigin="" /> }
                .to_html();
        }
    }
    #[cfg(not(feature = "ssr"))]
    let _ = route;
}

/// /admin, split out of the main bundle.
struct AdminRoute;

#[lazy_route]
impl LazyRoute for AdminRoute {
    fn data() -> Self {
        preload_pieces("admin_route");
        AdminRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AdminPage /> }.into_any()
    }
}

/// /settings/account, split out of the main bundle.
struct AccountSettingsRoute;

#[lazy_route]
impl LazyRoute for AccountSettingsRoute {
    fn data() -> Self {
        preload_pieces("account_settings_route");
        AccountSettingsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <AccountSettingsPage /> }.into_any()
    }
}

/// /settings/sessions, split out of the main bundle.
struct SessionSettingsRoute;

#[lazy_route]
impl LazyRoute for SessionSettingsRoute {
    fn data() -> Self {
        preload_pieces("session_settings_route");
        SessionSettingsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SessionSettingsPage /> }.into_any()
    }
}

/// /settings/security, split out of the main bundle.
struct SecuritySettingsRoute;

#[lazy_route]
impl LazyRoute for SecuritySettingsRoute {
    fn data() -> Self {
        preload_pieces("security_settings_route");
        SecuritySettingsRoute
    }

    fn view(_this: Self) -> AnyView {
        view! { <SecuritySettingsPage /> }.into_any()
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
