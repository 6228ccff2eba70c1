//! The pages an e-mail leads to: `/forgot-password`, `/reset-password?token=…` and
//! `/verify-email?token=…`. Each works without JavaScript.
//!
//! Opening a link changes nothing: the page shows a button that does. Mail filters and
//! link previews open links in messages, and must not use up a one-time link.

use crate::{
    api::{
        auth::auth_settings,
        email::{reset_link, verify_link, ForgotPassword, ResetPassword, VerifyEmail},
    },
    components::code_field::CodeField,
    components::form::{
        action_error, navigate_after_success, navigate_on_success, FieldError, FormError, PasswordField,
        TextField,
    },
    domain::PASSWORD_MIN_CHARS,
    model::{MSG_FORGOT, MSG_LINK_INVALID},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let forgot = ServerAction::<ForgotPassword>::new();
    navigate_on_success(forgot);
    let error = action_error(forgot);
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    view! {
        <Title text="Forgot your password?" />
        <section class="card auth-card">
            <h1>"Forgot your password?"</h1>
            <div aria-live="polite">
                <Show when=sent>
                    <p class="alert alert-success" data-testid="done">{MSG_FORGOT}</p>
                    <p class="muted">"The link works for an hour. Nothing arrived? Check your spam folder, or ask again in a few minutes."</p>
                </Show>
            </div>
            <p class="muted">
                "Type your username or your e-mail address. If your account has a verified address, we'll send it a link to choose a new password."
            </p>
            <ActionForm action=forgot>
                <FormError error />
                <TextField label="Username or e-mail address" name="login" autocomplete="username" maxlength=254 />
                <button type="submit" class="button primary wide">"Send me a link"</button>
            </ActionForm>
            <p class="switch"><A href="/login">"Back to sign in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let reset = ServerAction::<ResetPassword>::new();
    navigate_after_success(reset);
    let error = action_error(reset);
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    let link = crate::model::load(
        {
            let token = token.clone();
            move || token.clone()
        },
        reset_link,
    );
    let settings = crate::model::load(|| (), |_| auth_settings());
    view! {
        <Title text="Choose a new password" />
        <section class="card auth-card">
            <h1>"Choose a new password"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || {
                    let token = token.clone();
                    Suspend::new(async move {
                        let state = link.await.ok().filter(|l| l.valid);
                        let min = settings.await.map(|s| s.password_min_length).unwrap_or(PASSWORD_MIN_CHARS);
                        match state {
                            Some(state) => view! {
                                <p class="muted">"Saving signs you in here and signs out every other session."</p>
                                <ActionForm action=reset>
                                    <FormError error id="reset-error" />
                                    <input type="hidden" name="token" value=token />
                                    <PasswordField
                                        label="New password"
                                        name="password"
                                        autocomplete="new-password"
                                        hint=format!("At least {min} characters. A few unrelated words make a strong password.")
                                        error=FieldError { error, id: "reset-error" }
                                    />
                                    {state.needs_code.then(|| view! {
                                        <CodeField label="Code from your authenticator app (or a recovery code)" />
                                    })}
                                    <button type="submit" class="button primary wide">"Set new password"</button>
                                </ActionForm>
                            }
                                .into_any(),
                            None => view! {
                                <FormError error />
                                <p class="alert alert-warning" data-testid="link-invalid">{MSG_LINK_INVALID}</p>
                                <p><A href="/forgot-password" attr:class="button">"Ask for a new link"</A></p>
                            }
                                .into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let verify = ServerAction::<VerifyEmail>::new();
    navigate_after_success(verify);
    let error = action_error(verify);
    let query = use_query_map();
    let token = query.read_untracked().get("token").unwrap_or_default();
    let done = query
        .read_untracked()
        .get("done")
        .is_some_and(|d| d == "verified");
    let link = crate::model::load(
        {
            let token = token.clone();
            move || token.clone()
        },
        verify_link,
    );
    view! {
        <Title text="Verify your e-mail address" />
        <section class="card auth-card">
            <h1>"Verify your e-mail address"</h1>
            {if done {
                view! {
                    <p class="alert alert-success" data-testid="done">"Your e-mail address is verified. Thank you."</p>
                    <p><A href="/login" attr:class="button primary">"Sign in"</A></p>
                }
                    .into_any()
            } else {
                view! {
                    <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                        {move || {
                            let token = token.clone();
                            Suspend::new(async move {
                                match link.await.ok().flatten() {
                                    Some(address) => view! {
                                        <p>"Confirm that " <strong data-testid="address">{address}</strong> " is your address."</p>
                                        <ActionForm action=verify>
                                            <FormError error />
                                            <input type="hidden" name="token" value=token />
                                            <button type="submit" class="button primary wide">"Verify my address"</button>
                                        </ActionForm>
                                    }
                                        .into_any(),
                                    None => view! {
                                        <FormError error />
                                        <p class="alert alert-warning" data-testid="link-invalid">{MSG_LINK_INVALID}</p>
                                        <p class="muted">"Signed in? Your account settings can send a new link."</p>
                                    }
                                        .into_any(),
                                }
                            })
                        }}
                    </Transition>
                }
                    .into_any()
            }}
        </section>
    }
}
