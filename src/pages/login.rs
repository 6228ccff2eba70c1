use crate::{
    api::auth::{auth_settings, typed_username, Login},
    components::{
        form::{action_error, navigate_after_success, FormError, PasswordField, TextField},
        oauth::OAuthButtons,
        passkeys::PasskeySignIn,
    },
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    navigate_after_success(login);
    let error = action_error(login);
    let query = use_query_map();
    let next = query.read_untracked().get("next").unwrap_or_default();
    let signup_href = if next.is_empty() {
        "/signup".to_owned()
    } else {
        format!("/signup?next={}", crate::domain::encode_query_value(&next))
    };
    // After a failed post without JavaScript, the typed username comes back (once).
    let typed = crate::model::load(|| (), |_| typed_username());
    let settings = crate::model::load(|| (), |_| auth_settings());
    let next_for_oauth = next.clone();
    let next_for_passkey = next.clone();
    // Back from a provider where the visitor cancelled.
    let cancelled = query
        .read_untracked()
        .get("cancelled")
        .and_then(|p| p.parse::<crate::model::Provider>().ok())
        .map(|p| {
            format!(
                "Sign-in with {} was cancelled. Choose another way, or try again.",
                p.label()
            )
        });

    view! {
        <Title text="Sign in" />
        <section class="card auth-card">
            <h1>"Sign in"</h1>
            {cancelled.map(|text| view! { <p class="alert alert-warning" role="status" data-testid="flow-notice">{text}</p> })}
            <ActionForm action=login>
                <FormError error />
                <input type="hidden" name="next" value=next />
                <Suspense fallback=|| view! { <TextField label="Username" name="username" autocomplete="username webauthn" /> }>
                    {move || Suspend::new(async move {
                        let value = typed.await.ok().flatten().unwrap_or_default();
                        view! { <TextField label="Username" name="username" autocomplete="username webauthn" value /> }
                    })}
                </Suspense>
                <PasswordField label="Password" name="password" autocomplete="current-password" />
                <p class="forgot"><A href="/forgot-password">"Forgot your password?"</A></p>
                <button type="submit" class="button primary wide">"Sign in"</button>
            </ActionForm>
            <PasskeySignIn settings next=next_for_passkey />
            <OAuthButtons settings next=next_for_oauth verb="Sign in" />
            <p class="switch">"New here? " <A href=signup_href>"Create an account"</A></p>
        </section>
    }
}
