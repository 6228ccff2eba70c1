//! `/reauth`: "Confirm it's you". Changing how an account signs in needs a recent
//! authentication; when the sign-in is older than `GATEHOUSE_REAUTH_WINDOW`, the action
//! sends the browser here, and a confirmation returns it to where it was.

use crate::{
    api::{auth::Reauthenticate, settings::load_account},
    components::{
        authorized::Authorized,
        code_field::CodeField,
        form::{action_error, navigate_after_success, FieldError, FormError, PasswordField},
        passkeys::PasskeyButton,
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
        <Title text="Confirm it's you" />
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
    let account = crate::model::load(|| (), |_| load_account());
    view! {
        <section class="card auth-card">
            <h1>"Confirm it's you"</h1>
            <p class="muted">
                "For your safety, changing how you sign in needs a recent sign-in. Confirm it's you to go on."
            </p>
            // A provider confirmation that was refused or cancelled comes back here.
            {flow_error(query.read_untracked().get("error").as_deref(), query.read_untracked().get("provider"))
                .map(|text| view! { <p class="alert alert-error" role="alert" data-testid="flow-error">{text}</p> })}
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
    // With two-factor sign-in on, confirming takes a code as well, whichever way.
    let code = move || {
        account
            .two_factor
            .then(|| view! { <CodeField label="Code from your app, or a recovery code" /> })
    };
    let password = account.has_password.then(|| {
        let next = next.clone();
        view! {
            <ActionForm action=confirm>
                <FormError error id="reauth-error" />
                <input type="hidden" name="next" value=next />
                // Lets password managers fill the right account.
                <input type="text" class="visually-hidden" autocomplete="username" value=account.username.clone() readonly tabindex="-1" aria-hidden="true" />
                <PasswordField label="Password" name="password" autocomplete="current-password" error=FieldError { error, id: "reauth-error" } />
                {code()}
                <button type="submit" class="button primary wide">"Confirm"</button>
            </ActionForm>
        }
    });
    // With two-factor sign-in on and a password, the password form is the way (it
    // has the code field); otherwise each linked provider can confirm, in one form so
    // that a code is typed once whichever button is pressed.
    let linked: Vec<Provider> = [
        (
            Provider::GitHub,
            account.github_enabled && account.github.is_some(),
        ),
        (
            Provider::Google,
            account.google_enabled && account.google.is_some(),
        ),
    ]
    .into_iter()
    .filter(|(_, usable)| *usable && !(account.two_factor && account.has_password))
    .map(|(provider, _)| provider)
    .collect();
    let providers = linked.first().map(|first| {
        let buttons = linked
            .iter()
            .map(|provider| {
                view! {
                    <button type="submit" class="button oauth-button" formaction=format!("/auth/{}/reauth", provider.as_str())>
                        {format!("Continue with {}", provider.label())}
                    </button>
                }
            })
            .collect_view();
        view! {
            <form method="post" action=format!("/auth/{}/reauth", first.as_str()) class="oauth">
                <input type="hidden" name="next" value=next.clone() />
                {(!account.has_password).then(code)}
                {buttons}
            </form>
        }
    });
    // A passkey sign-in is two factors and a fresh session: it confirms as well.
    let passkey = account
        .passkeys
        .then(|| view! { <PasskeyButton next=next.clone() label="Confirm with a passkey" /> });
    let none = (password.is_none() && providers.is_none() && passkey.is_none()).then(|| {
        view! { <p class="alert alert-warning">"This account has no way to confirm here. Sign out and sign in again."</p> }
    });
    view! {
        {password}
        {providers}
        {passkey}
        {none}
    }
}

/// What a provider confirmation that came back here (`?error=…&provider=…`) says.
fn flow_error(error: Option<&str>, provider: Option<String>) -> Option<String> {
    let provider = provider
        .and_then(|p| p.parse::<crate::model::Provider>().ok())
        .map_or("the provider", |p| p.label());
    match error? {
        "code" => Some("Incorrect code".to_owned()),
        "throttled" => Some("Too many attempts. Try again in a few minutes.".to_owned()),
        "cancelled" => Some(format!(
            "Confirming with {provider} was cancelled. Choose a way to confirm it's you."
        )),
        _ => None,
    }
}
