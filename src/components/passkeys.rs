//! Passkeys in the UI. The WebAuthn calls are made by `/passkeys.js` (a module of the
//! site's own origin, loaded by the shell): these components give it its buttons
//! (`data-passkey-*`), which stay hidden until it marks the page (`html.passkeys`, see
//! `style/main.css`). Without JavaScript a short line says passkeys need it instead;
//! renaming and removing are plain forms and work either way.

use crate::{
    api::security::{RemovePasskey, RenamePasskey},
    components::{
        form::{action_error, navigate_on_success, FormError},
        local_time::LocalTime,
    },
    model::{AppError, AuthSettings, PasskeyInfo},
};
use leptos::prelude::*;

/// The line shown instead of the passkey controls when the page has no JavaScript.
const NEEDS_JAVASCRIPT: &str = "Passkeys need JavaScript.";

/// "Sign in with a passkey" on `/login` (when the site offers passkeys): a discoverable
/// passkey, no username typed.
#[component]
pub fn PasskeySignIn(
    settings: crate::model::Loaded<Result<AuthSettings, AppError>>,
    /// Where to go after signing in (a local path, checked again by the server).
    next: String,
) -> impl IntoView {
    view! {
        <Suspense fallback=|| ()>
            {move || {
                let next = next.clone();
                Suspend::new(async move {
                    let settings = settings.await.ok()?;
                    settings.passkeys.then(|| view! { <PasskeyButton next label="Sign in with a passkey" /> })
                })
            }}
        </Suspense>
    }
}

/// The passkey sign-in button, its error line, and the no-JavaScript note. On `/reauth`
/// the same sign-in confirms it's you (a fresh session is a recent one).
#[component]
pub fn PasskeyButton(next: String, label: &'static str) -> impl IntoView {
    view! {
        <div class="passkey-sign-in" data-passkey-scope data-next=next>
            <p class="divider"><span>"or"</span></p>
            <div class="passkey-only">
                <button type="button" class="button wide" data-passkey-login data-testid="passkey-login">
                    {label}
                </button>
                <p class="alert alert-error" role="alert" data-passkey-error hidden></p>
            </div>
            <p class="muted passkey-note" data-testid="passkey-note">{NEEDS_JAVASCRIPT}</p>
        </div>
    }
}

/// The passkey part of `/settings/security`: the list (rename, remove) and "Add a passkey".
#[component]
pub fn PasskeyList(
    passkeys: Vec<PasskeyInfo>,
    rename: ServerAction<RenamePasskey>,
    remove: ServerAction<RemovePasskey>,
) -> impl IntoView {
    let rename_error = action_error(rename);
    let remove_error = action_error(remove);
    let empty = passkeys.is_empty().then(|| {
        view! { <p class="muted" data-testid="no-passkeys">"No passkeys yet."</p> }
    });
    let rows = passkeys
        .into_iter()
        .map(|key| {
            let used = match key.last_used_at {
                Some(at) => view! { "last used " <LocalTime at /> }.into_any(),
                None => "never used".into_any(),
            };
            let added = key.created_at;
            let synced = key.backed_up.then_some(" · synced");
            let id = key.id.to_string();
            let field_id = format!("rename-{id}");
            let rename_id = id.clone();
            view! {
                <li class="passkey" data-testid="passkey">
                    <div>
                        <strong data-testid="passkey-name">{key.name.clone()}</strong>
                        <span class="muted" data-testid="passkey-meta">
                            " · added " <LocalTime at=added /> " · " {used}
                            {synced}
                        </span>
                    </div>
                    <ActionForm action=rename attr:class="inline-form">
                        <input type="hidden" name="id" value=rename_id />
                        <label class="visually-hidden" for=field_id.clone()>"New name"</label>
                        <input id=field_id name="name" type="text" maxlength="64" required value=key.name />
                        <button type="submit" class="button">"Rename"</button>
                    </ActionForm>
                    <ActionForm action=remove attr:class="inline-form">
                        <input type="hidden" name="id" value=id />
                        <button type="submit" class="button danger">"Remove"</button>
                    </ActionForm>
                </li>
            }
        })
        .collect_view();
    view! {
        <h2 id="passkeys">"Passkeys"</h2>
        <p class="muted">
            "A passkey signs you in with your device's screen lock or a security key — no password, no code, and it only works on this site."
        </p>
        <FormError error=rename_error />
        <FormError error=remove_error />
        {empty}
        <ul class="passkey-list">{rows}</ul>
        <div class="passkey-add" data-passkey-scope>
            <div class="passkey-only">
                <div class="field">
                    <label for="passkey-name">"Name (optional)"</label>
                    <input id="passkey-name" type="text" maxlength="64" placeholder="Laptop" data-passkey-name />
                </div>
                <button type="button" class="button primary" data-passkey-add data-testid="passkey-add">"Add a passkey"</button>
                <p class="alert alert-error" role="alert" data-passkey-error hidden></p>
            </div>
            <p class="muted passkey-note" data-testid="passkey-note">{NEEDS_JAVASCRIPT}" Passkeys added elsewhere can be renamed and removed here."</p>
        </div>
    }
}

/// The page's passkey actions go on without rebuilding the page, like its other forms.
pub fn passkey_actions() -> (ServerAction<RenamePasskey>, ServerAction<RemovePasskey>) {
    let rename = ServerAction::<RenamePasskey>::new();
    let remove = ServerAction::<RemovePasskey>::new();
    navigate_on_success(rename);
    navigate_on_success(remove);
    (rename, remove)
}
