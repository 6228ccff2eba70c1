//! `/reauth`: "Confirm it's you". Changing how an account signs in needs a recent
//! authentication; when the sign-in is older than `GATEHOUSE_REAUTH_WINDOW`, the action
//! sends the browser here, and a confirmation returns it to where it was.

use crate::{
    api::{auth::Reauthenticate, settings::load_account},
    components::{
        authorized::Authorized,
        form::{action_error, navigate_after_success, FormError, PasswordField},
    },
    domain::LocalPath,
    model::{AccountOverview, Provider},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn ReauthPage() -> impl IntoView {
    view! {
        <Title text="Confirm it's you · Gatehouse" />
        <Authorized render=|_| view! { <Reauth /> }.into_any() />
    }
}

#[component]
fn Reauth() -> impl IntoView {
    let confirm = ServerAction::<Reauthenticate>::new();
    navigate_after_success(confirm);
    let error = action_error(confirm);
    let query = use_query_map();
    let next = LocalPath::or_profile(query.read_untracked().get("next").as_deref());
    let account = Resource::new(|| (), |_| load_account());
    view! {
        <section class="card auth-card">
            <h1>"Confirm it's you"</h1>
            <p class="muted">
                "For your safety, changing how you sign in needs a recent sign-in. Confirm it's you to go on."
            </p>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let next = next.clone();
                    Suspend::new(async move {
                        match account.await {
                            Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                            Ok(account) => view! { <Ways account next confirm error /> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

/// The ways this account can confirm: its password, and each provider linked to it.
#[component]
fn Ways(
    account: AccountOverview,
    next: String,
    confirm: ServerAction<Reauthenticate>,
    error: Signal<Option<crate::model::AppError>>,
) -> impl IntoView {
    let password = account.has_password.then(|| {
        let next = next.clone();
        view! {
            <ActionForm action=confirm>
                <FormError error />
                <input type="hidden" name="next" value=next />
                // Lets password managers fill the right account.
                <input type="text" class="visually-hidden" autocomplete="username" value=account.username.clone() readonly tabindex="-1" aria-hidden="true" />
                <PasswordField label="Password" name="password" autocomplete="current-password" />
                <button type="submit" class="button primary wide">"Confirm"</button>
            </ActionForm>
        }
    });
    let providers = [
        (Provider::GitHub, account.github_enabled && account.github.is_some()),
        (Provider::Google, account.google_enabled && account.google.is_some()),
    ]
    .into_iter()
    .filter(|(_, usable)| *usable)
    .map(|(provider, _)| {
        view! {
            <form method="post" action=format!("/auth/{}/reauth", provider.as_str())>
                <input type="hidden" name="next" value=next.clone() />
                <button type="submit" class="button oauth-button">{format!("Continue with {}", provider.label())}</button>
            </form>
        }
    })
    .collect::<Vec<_>>();
    let none = (password.is_none() && providers.is_empty()).then(|| {
        view! { <p class="alert alert-warning">"This account has no way to confirm here. Sign out and sign in again."</p> }
    });
    view! {
        {password}
        {(!providers.is_empty()).then(|| view! { <div class="oauth">{providers}</div> })}
        {none}
    }
}
