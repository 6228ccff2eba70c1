//! `<Guarded>`: renders a page only for a user the route table lets in.
//!
//! On the server the guard layer has already redirected signed-out visitors, so here a
//! missing user only happens after client-side navigation (or a sign-out in another
//! tab): the browser is sent to the sign-in page. A role that is too low renders the
//! 403 page (with status 403 on the server).

use crate::{
    app::use_auth,
    components::notice::{ErrorNotice, Forbidden},
    model::{role_at_least, Role, SessionUser},
    routes::{access_for, login_url, Access},
};
use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_location};

#[component]
pub fn Guarded<F>(
    /// The page, given the signed-in user.
    render: F,
) -> impl IntoView
where
    F: Fn(SessionUser) -> AnyView + Clone + Send + Sync + 'static,
{
    let auth = use_auth();
    let location = use_location();
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    let path = location.pathname.get_untracked();
                    let required = match access_for(&path) {
                        Access::SignedIn(role) => role,
                        Access::Public | Access::SignedOut => Role::None,
                    };
                    match auth.user.await {
                        Ok(Some(user)) if role_at_least(required, user.role) => render(user),
                        Ok(Some(_)) => view! { <Forbidden /> }.into_any(),
                        Ok(None) => {
                            let search = location.search.get_untracked();
                            let here = if search.is_empty() { path } else { format!("{path}?{search}") };
                            view! { <Redirect path=login_url(&here) /> }.into_any()
                        }
                        Err(error) => view! { <ErrorNotice error /> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
