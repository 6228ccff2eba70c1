//! The navigation bar: reads the auth context, so it shows the right state in the
//! server's HTML and follows every sign-in and sign-out without a reload. Its links are
//! the page table's navigation entries the visitor may open.

use crate::{
    api::auth::Logout,
    components::auth::use_auth,
    components::form::navigate_after_success,
    model::Role,
    page::{Access, NavEntry, Page},
};
use leptos::prelude::*;
use leptos_router::components::A;

/// The navigation entries a visitor with `role` (`None`: signed out) is offered.
fn entries(role: Option<Role>) -> Vec<(Page, NavEntry)> {
    Page::ALL
        .into_iter()
        .filter(|page| page.access() != Access::Public && page.admits(role))
        .filter_map(|page| page.nav().map(|entry| (page, entry)))
        .collect()
}

fn links(role: Option<Role>) -> impl IntoView {
    entries(role)
        .into_iter()
        .map(|(page, entry)| {
            let class = entry.prominent.then_some("button small");
            view! { <li><A href=page.path() attr:class=class>{entry.label}</A></li> }
        })
        .collect_view()
}

#[component]
pub fn NavBar() -> impl IntoView {
    let auth = use_auth();
    let name = crate::components::auth::use_app_name();
    let logout = ServerAction::<Logout>::new();
    navigate_after_success(logout);

    view! {
        <header class="site-header">
            <nav class="nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"▣"</span>
                    {name.to_string()}
                </A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => {
                                view! {
                                    <ul class="nav-links" data-testid="nav-signed-in">
                                        {links(Some(user.role))}
                                        <li class="nav-user" data-testid="nav-username">{user.username}</li>
                                        <li>
                                            <ActionForm action=logout>
                                                <button type="submit" class="button ghost small">"Sign out"</button>
                                            </ActionForm>
                                        </li>
                                    </ul>
                                }
                                    .into_any()
                            }
                            _ => {
                                view! {
                                    <ul class="nav-links" data-testid="nav-signed-out">{links(None)}</ul>
                                }
                                    .into_any()
                            }
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(role: Option<Role>) -> Vec<&'static str> {
        entries(role).into_iter().map(|(_, e)| e.label).collect()
    }

    #[test]
    fn each_visitor_sees_the_pages_their_role_opens() {
        assert_eq!(labels(None), ["Sign in", "Sign up"]);
        assert_eq!(labels(Some(Role::None)), ["Profile", "Settings"]);
        assert_eq!(labels(Some(Role::User)), ["Profile", "Members", "Settings"]);
        assert_eq!(
            labels(Some(Role::Admin)),
            ["Profile", "Members", "Admin", "Settings"]
        );
        assert_eq!(
            labels(Some(Role::Owner)),
            ["Profile", "Members", "Admin", "Settings"]
        );
    }
}
