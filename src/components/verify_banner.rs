//! The banner asking a signed-in user to verify their e-mail address, with "Resend".
//! It reads the auth context (the flag comes with the session), so it costs no request.

use crate::{
    api::email::ResendVerification,
    components::auth::use_auth,
    components::form::{action_error, navigate_on_success, FormError},
};
use leptos::prelude::*;

#[component]
pub fn VerifyBanner() -> impl IntoView {
    let auth = use_auth();
    let resend = ServerAction::<ResendVerification>::new();
    navigate_on_success(resend);
    let error = action_error(resend);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let unverified = matches!(auth.user.await, Ok(Some(user)) if user.email_unverified);
                unverified.then(|| view! {
                    <div class="verify-banner" role="region" aria-label="E-mail verification" data-testid="verify-banner">
                        <p>"Please verify your e-mail address: open the link we sent you."</p>
                        <ActionForm action=resend>
                            <FormError error />
                            <button type="submit" class="button small">"Resend"</button>
                        </ActionForm>
                    </div>
                })
            })}
        </Transition>
    }
}
