//! `/login/two-factor`: the second step of signing in for an account with two-factor
//! sign-in on. The password (or provider) was right; a code from the authenticator app,
//! or a recovery code, completes the sign-in.

use crate::{
    api::auth::{pending_sign_in, VerifySecondFactor},
    components::code_field::CodeField,
    components::form::{action_error, navigate_after_success, FormError},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn TwoFactorPage() -> impl IntoView {
    let verify = ServerAction::<VerifySecondFactor>::new();
    navigate_after_success(verify);
    let error = action_error(verify);
    let pending = crate::model::load(|| (), |_| pending_sign_in());
    view! {
        <Title text="Two-factor sign-in" />
        <section class="card auth-card">
            <h1>"Two-factor sign-in"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    if pending.await.unwrap_or(false) {
                        view! {
                            <p class="muted">
                                "Enter the six-digit code from your authenticator app. Lost your phone? A recovery code works too."
                            </p>
                            <ActionForm action=verify>
                                <FormError error />
                                <CodeField label="Code" />
                                <button type="submit" class="button primary wide">"Sign in"</button>
                            </ActionForm>
                        }
                            .into_any()
                    } else {
                        view! {
                            <FormError error />
                            <p class="alert alert-warning" data-testid="no-pending-sign-in">
                                "No sign-in is waiting for a code here, or it has expired (after five minutes)."
                            </p>
                        }
                            .into_any()
                    }
                })}
            </Transition>
            <p class="switch"><A href="/login">"Sign in again"</A></p>
        </section>
    }
}
