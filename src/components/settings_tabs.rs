//! What the settings pages share: their tabs, and the notice a finished action leaves.

use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_query_map};

/// The tabs above the settings pages.
#[component]
pub fn SettingsTabs() -> impl IntoView {
    view! {
        <nav class="tabs" aria-label="Settings">
            <A href="/settings/account">"Account"</A>
            <A href="/settings/security">"Security"</A>
            <A href="/settings/sessions">"Sessions"</A>
        </nav>
    }
}

/// The notice a finished action leaves in the address (`?done=…`), so that it shows
/// after a redirect without JavaScript as well as after client-side navigation.
fn done_notice(done: Option<String>) -> Option<&'static str> {
    match done.as_deref()? {
        "password" => Some("Your password was saved. Every other session was signed out."),
        "revoked" => Some("That session was signed out."),
        "others" => Some("All your other sessions were signed out."),
        "linked" => Some("The account was connected. You can now sign in with it."),
        "unlinked" => Some("The account was disconnected."),
        "enabled" => Some("Two-factor sign-in is on."),
        "codes" => Some("New recovery codes were made; the old ones no longer work."),
        "disabled" => Some("Two-factor sign-in is off."),
        "added" => Some("The passkey was added. You can sign in with it now."),
        "renamed" => Some("The passkey was renamed."),
        "removed" => Some("The passkey was removed."),
        "reset" => {
            Some("Your new password is saved and you are signed in. Every other session was signed out.")
        }
        "email-verified" => Some("Your e-mail address is verified."),
        "email-sent" => Some("We sent a link to your address. Open it to verify the address."),
        "email-pending" => {
            Some("We sent a link to the new address. Your current address stays until you open it.")
        }
        _ => None,
    }
}

/// The error a provider flow came back with (`?error=…&provider=…`).
fn error_notice(error: Option<String>, provider: Option<String>) -> Option<String> {
    let provider = provider
        .and_then(|p| p.parse::<crate::model::Provider>().ok())
        .map(|p| p.label())
        .unwrap_or("That");
    match error.as_deref()? {
        "linked-elsewhere" => Some(format!(
            "That {provider} account is already linked to another user."
        )),
        "already-connected" => Some(format!(
            "Another {provider} account is already connected. Disconnect it first."
        )),
        "cancelled" => Some(format!(
            "Connecting {provider} was cancelled. Nothing was changed."
        )),
        _ => None,
    }
}

#[component]
pub fn DoneNotice() -> impl IntoView {
    let query = use_query_map();
    view! {
        <div aria-live="polite">
            {move || {
                done_notice(query.read().get("done"))
                    .map(|text| view! { <p class="alert alert-success" data-testid="done">{text}</p> })
            }}
            {move || {
                let q = query.read();
                error_notice(q.get("error"), q.get("provider"))
                    .map(|text| view! { <p class="alert alert-error" role="alert" data-testid="flow-error">{text}</p> })
            }}
        </div>
    }
}
