use crate::components::authorized::Authorized;
use leptos::prelude::*;
use leptos_meta::Title;

/// A sample page for members (role `user` and above).
#[component]
pub fn MembersPage() -> impl IntoView {
    view! {
        <Title text="Members" />
        <Authorized render=|user| {
            view! {
                <section class="card">
                    <h1>"Members' area"</h1>
                    <p>
                        "Welcome, " <strong>{user.username}</strong>
                        ". Only members can read this page: a signed-out visitor is sent to sign in, and an account with the role "
                        <code>"none"</code> " gets a 403."
                    </p>
                    <p class="muted">"Put the parts of your product that need an account here."</p>
                </section>
            }
            .into_any()
        } />
    }
}
