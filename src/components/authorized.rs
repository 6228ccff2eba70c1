//! `<Authorized>`: renders a page only for a visitor the page table admits.
//!
//! On the server the access layer has already redirected signed-out visitors, so here a
//! missing user only happens after client-side navigation (or a sign-out in another
//! tab): the browser is sent to the sign-in page. A role that is too low renders the
//! 403 page (with status 403 on the server).

use crate::{
    components::auth::use_auth,
    components::notice::{ErrorNotice, Forbidden},
    model::SessionUser,
    page::{login_url, Page},
};
use leptos::prelude::*;
use leptos_router::{components::Redirect, hooks::use_location};

#[component]
pub fn Authorized<F>(
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
                    // A path outside the table admits nobody: fail closed.
                    let admitted = |user: &SessionUser| {
                        Page::at(&path).is_some_and(|page| page.admits(Some(user.role)))
                    };
                    match auth.user.await {
                        Ok(Some(user)) if admitted(&user) => render(user),
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
