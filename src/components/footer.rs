use leptos::prelude::*;

#[component]
pub fn Footer() -> impl IntoView {
    view! {
        <footer class="site-footer">
            <p>
                "Gatehouse · accounts, sessions and roles for Leptos apps · "
                <a href="/healthz" rel="external">"status"</a>
            </p>
        </footer>
    }
}
