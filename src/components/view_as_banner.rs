//! The banner on every page while an administrator views the app as another user: it
//! names both, and "Stop" returns to the administrator's own session. It reads the auth
//! context (the names come with the session), so it costs no request.

use crate::{
    api::auth::StopViewing,
    components::auth::use_auth,
    components::form::{action_error, navigate_after_success, FormError},
};
use leptos::prelude::*;

#[component]
pub fn ViewAsBanner() -> impl IntoView {
    let auth = use_auth();
    let stop = ServerAction::<StopViewing>::new();
    navigate_after_success(stop);
    let error = action_error(stop);
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let viewing = match auth.user.await {
                    Ok(Some(user)) => user.viewed_by.map(|admin| (user.username, admin)),
                    _ => None,
                };
                viewing.map(|(user, admin)| view! {
                    <div class="view-as-banner" role="region" aria-label="Viewing as another user" data-testid="view-as-banner">
                        <p>
                            "You are viewing the app as " <strong>{user}</strong>
                            ". You are signed in as " <strong>{admin}</strong> "."
                        </p>
                        <ActionForm action=stop>
                            <FormError error />
                            <button type="submit" class="button small">"Stop"</button>
                        </ActionForm>
                    </div>
                })
            })}
        </Transition>
    }
}
