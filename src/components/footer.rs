use crate::components::auth::use_app_name;
use leptos::prelude::*;

#[component]
pub fn Footer() -> impl IntoView {
    let name = use_app_name();
    view! {
        <footer class="site-footer">
            <p>
                {name.to_string()} " · accounts, sessions and roles for Leptos apps · "
                <a href="/healthz" rel="external">"status"</a>
            </p>
        </footer>
    }
}
