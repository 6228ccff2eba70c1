//! The navigation bar: reads the auth context, so it shows the right state in the
//! server's HTML and follows every sign-in and sign-out without a reload.

use crate::{
    api::auth::Logout,
    app::use_auth,
    components::form::navigate_after_success,
    model::{role_at_least, Role},
};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn NavBar() -> impl IntoView {
    let auth = use_auth();
    let logout = ServerAction::<Logout>::new();
    navigate_after_success(logout);

    view! {
        <header class="site-header">
            <nav class="nav" aria-label="Main">
                <A href="/" attr:class="brand">
                    <span class="brand-mark" aria-hidden="true">"▣"</span>
                    "Gatehouse"
                </A>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match auth.user.await {
                            Ok(Some(user)) => {
                                let is_member = role_at_least(Role::User, user.role);
                                let is_admin = role_at_least(Role::Admin, user.role);
                                view! {
                                    <ul class="nav-links" data-testid="nav-signed-in">
                                        <li><A href="/profile">"Profile"</A></li>
                                        {is_member.then(|| view! { <li><A href="/members">"Members"</A></li> })}
                                        {is_admin.then(|| view! { <li><A href="/admin">"Admin"</A></li> })}
                                        <li><A href="/settings/account">"Settings"</A></li>
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
                                    <ul class="nav-links" data-testid="nav-signed-out">
                                        <li><A href="/login">"Sign in"</A></li>
                                        <li><A href="/signup" attr:class="button small">"Sign up"</A></li>
                                    </ul>
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
