//! Sign-in providers in the UI: "Sign in with …" buttons (plain links, so they work
//! without JavaScript; `rel="external"` keeps the client-side router off them, since
//! they leave the app for the provider) and the connect / disconnect list of the account page.

use crate::{
    components::form::FormError,
    domain::encode_query_value,
    model::{AppError, AuthSettings},
};
use leptos::prelude::*;

#[component]
pub fn OAuthButtons(
    settings: crate::model::Loaded<Result<AuthSettings, AppError>>,
    /// Where to go after signing in (a local path, checked again by the server).
    next: String,
    /// "Sign in" or "Sign up".
    verb: &'static str,
) -> impl IntoView {
    let query = if next.is_empty() {
        String::new()
    } else {
        format!("?next={}", encode_query_value(&next))
    };
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let query = query.clone();
                Suspend::new(async move {
                    let settings = settings.await.ok()?;
                    if !settings.github && !settings.google {
                        return None;
                    }
                    Some(view! {
                        <div class="oauth">
                            <p class="divider"><span>"or"</span></p>
                            {settings.github.then(|| view! {
                                <a class="button oauth-button" rel="external" href=format!("/auth/github{query}")>{format!("{verb} with GitHub")}</a>
                            })}
                            {settings.google.then(|| view! {
                                <a class="button oauth-button" rel="external" href=format!("/auth/google{query}")>{format!("{verb} with Google")}</a>
                            })}
                        </div>
                    })
                })
            }}
        </Suspense>
    }
}

/// The "Sign-in methods" part of the account page: each configured provider, with a
/// form to connect it (a plain POST that leaves for the provider) or to disconnect it.
#[component]
pub fn LinkedAccounts(account: crate::model::AccountOverview) -> impl IntoView {
    use crate::{api::settings::UnlinkProvider, components::form::navigate_after_success, model::Provider};
    let unlink = ServerAction::<UnlinkProvider>::new();
    navigate_after_success(unlink);
    let error = crate::components::form::action_error(unlink);
    let rows = [
        (Provider::GitHub, account.github_enabled, account.github.clone()),
        (Provider::Google, account.google_enabled, account.google.clone()),
    ]
    .into_iter()
    .filter(|(_, enabled, linked)| *enabled || linked.is_some())
    .map(|(provider, enabled, linked)| {
        let action = match linked.clone() {
            Some(_) => view! {
                <ActionForm action=unlink>
                    <input type="hidden" name="provider" value=provider.as_str() />
                    <button type="submit" class="button small">{format!("Disconnect {}", provider.label())}</button>
                </ActionForm>
            }
            .into_any(),
            None if enabled => view! {
                <form method="post" action=format!("/auth/{}/link", provider.as_str())>
                    <button type="submit" class="button small">{format!("Connect {}", provider.label())}</button>
                </form>
            }
            .into_any(),
            None => ().into_any(),
        };
        view! {
            <li class="method" data-provider=provider.as_str()>
                <span>
                    <strong>{provider.label()}</strong>
                    {match linked {
                        Some(who) => view! { <span class="muted">" · connected as " {who}</span> }.into_any(),
                        None => view! { <span class="muted">" · not connected"</span> }.into_any(),
                    }}
                </span>
                {action}
            </li>
        }
    })
    .collect::<Vec<_>>();
    (!rows.is_empty()).then(|| {
        view! {
            <h2>"Sign-in methods"</h2>
            <FormError error />
            <ul class="methods">{rows}</ul>
        }
    })
}
