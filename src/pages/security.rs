//! `/settings/security`: two-factor sign-in with an authenticator app — set it up (key
//! as a QR code, a link and text; a first code turns it on), recovery codes (shown once,
//! replaced on request), and turning it off; and passkeys (listed, renamed, removed here;
//! added through `/passkeys.js`).

use crate::{
    api::security::{
        load_security, new_recovery_codes, BeginTwoFactor, ConfirmTwoFactor, DisableTwoFactor,
        RegenerateRecoveryCodes,
    },
    components::{
        authorized::Authorized,
        code_field::CodeField,
        form::{action_error, navigate_on_success, FormError},
        local_time::LocalTime,
        passkeys::{passkey_actions, PasskeyList},
        settings_tabs::{DoneNotice, SettingsTabs},
    },
    model::{SecurityOverview, TwoFactorSetup, TwoFactorState},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn SecuritySettingsPage() -> impl IntoView {
    view! {
        <Title text="Security" />
        <Authorized render=|_| view! { <Security /> }.into_any() />
    }
}

/// The actions of the page, shared by its parts.
#[derive(Clone, Copy)]
struct Actions {
    begin: ServerAction<BeginTwoFactor>,
    confirm: ServerAction<ConfirmTwoFactor>,
    regenerate: ServerAction<RegenerateRecoveryCodes>,
    disable: ServerAction<DisableTwoFactor>,
}

#[component]
fn Security() -> impl IntoView {
    let actions = Actions {
        begin: ServerAction::new(),
        confirm: ServerAction::new(),
        regenerate: ServerAction::new(),
        disable: ServerAction::new(),
    };
    // Nobody signs in or out here: the page goes on without rebuilding itself (which
    // would ask again for recovery codes that can be read once).
    navigate_on_success(actions.begin);
    navigate_on_success(actions.confirm);
    navigate_on_success(actions.regenerate);
    navigate_on_success(actions.disable);
    let (rename, remove) = passkey_actions();
    let query = use_query_map();
    // Read again after every action and every `?done=` (the page they lead to).
    let changes = move || {
        (
            query.read().get("done"),
            actions.begin.version().get(),
            actions.confirm.version().get(),
            actions.regenerate.version().get(),
            actions.disable.version().get(),
            rename.version().get(),
            remove.version().get(),
        )
    };
    let overview = crate::model::load(changes, |_| load_security());
    // Recovery codes can be read once: only the page an action leads to asks for them
    // (each new set of codes has an address of its own).
    let codes = crate::model::load(
        move || (query.read().get("done"), query.read().get("at")),
        |(done, _)| async move {
            match done.as_deref() {
                Some("enabled" | "codes") => new_recovery_codes().await,
                _ => Ok(None),
            }
        },
    );
    view! {
        <SettingsTabs />
        <section class="card">
            <h1>"Security"</h1>
            <DoneNotice />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    let codes = codes.await.ok().flatten();
                    match overview.await {
                        Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                        Ok(overview) => {
                            let passkeys = (overview.passkeys_enabled || !overview.passkeys.is_empty())
                                .then(|| overview.passkeys.clone());
                            view! {
                                <TwoFactor overview codes actions />
                                {passkeys.map(|passkeys| view! { <PasskeyList passkeys rename remove /> })}
                            }
                            .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn TwoFactor(overview: SecurityOverview, codes: Option<Vec<String>>, actions: Actions) -> impl IntoView {
    let required = overview.required.then(|| {
        view! {
            <p class="alert alert-warning" data-testid="two-factor-required">
                "Your role needs two-factor sign-in. Set it up to use the rest of the site."
            </p>
        }
    });
    let body = match overview.two_factor {
        TwoFactorState::Off => {
            let error = action_error(actions.begin);
            view! {
                <p data-testid="two-factor-status">"Two-factor sign-in is off."</p>
                <p class="muted">
                    "With it on, signing in also asks for a six-digit code from an authenticator app on your phone, so a stolen password is not enough."
                </p>
                <ActionForm action=actions.begin>
                    <FormError error />
                    <button type="submit" class="button primary">"Set up two-factor sign-in"</button>
                </ActionForm>
            }
            .into_any()
        }
        TwoFactorState::SettingUp(setup) => view! { <SetUp setup confirm=actions.confirm /> }.into_any(),
        TwoFactorState::On { since } => {
            let regenerate_error = action_error(actions.regenerate);
            let disable_error = action_error(actions.disable);
            let left = overview.recovery_codes_left;
            view! {
                <p data-testid="two-factor-status">
                    "Two-factor sign-in is on (since " <LocalTime at=since /> ")."
                </p>
                <h2>"Recovery codes"</h2>
                <p data-testid="recovery-codes-left">
                    {match left {
                        1 => "1 recovery code left.".to_owned(),
                        n => format!("{n} recovery codes left."),
                    }}
                </p>
                <ActionForm action=actions.regenerate>
                    <FormError error=regenerate_error />
                    <button type="submit" class="button">"Make new recovery codes"</button>
                </ActionForm>
                <h2>"Turn off"</h2>
                <ActionForm action=actions.disable>
                    <FormError error=disable_error />
                    <CodeField label="Code from your app, or a recovery code" />
                    <button type="submit" class="button danger">"Turn off two-factor sign-in"</button>
                </ActionForm>
            }
            .into_any()
        }
    };
    view! {
        {required}
        {codes.map(|codes| view! { <RecoveryCodes codes /> })}
        {body}
    }
}

/// The key to add to an authenticator app, and the form for its first code.
#[component]
fn SetUp(setup: TwoFactorSetup, confirm: ServerAction<ConfirmTwoFactor>) -> impl IntoView {
    let error = action_error(confirm);
    view! {
        <p data-testid="two-factor-status">"Almost there: add this key to your authenticator app, then enter the code it shows."</p>
        <div class="two-factor-setup">
            <div class="qr" inner_html=setup.qr_svg></div>
            <div>
                <p>
                    "Scan the QR code, or on your phone "
                    <a href=setup.uri rel="external" data-testid="otpauth-link">"open the key in your authenticator app"</a>
                    ", or type the key:"
                </p>
                <p><code class="key" data-testid="two-factor-key">{setup.key}</code></p>
            </div>
        </div>
        <ActionForm action=confirm>
            <FormError error />
            <CodeField label="Code from your app" />
            <button type="submit" class="button primary">"Turn on"</button>
        </ActionForm>
    }
}

/// Recovery codes just made, shown this once, with a download.
#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    let text = format!(
        "{} recovery codes. Each works once, in place of a code from your app.\n\n{}\n",
        crate::components::auth::use_app_name(),
        codes.join("\n")
    );
    let download = format!(
        "data:text/plain;charset=utf-8,{}",
        crate::domain::encode_query_value(&text)
    );
    view! {
        <div class="alert alert-success recovery-codes" data-testid="recovery-codes">
            <p><strong>"Your recovery codes"</strong>" — shown only now. Keep them somewhere safe: each lets you in once without your phone."</p>
            <ul class="codes">
                {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
            </ul>
            <p><a href=download download="gatehouse-recovery-codes.txt" rel="external">"Download as a text file"</a></p>
        </div>
    }
}
