use crate::{
    api::auth::{auth_settings, typed_username, Signup},
    components::{
        form::{
            action_error, navigate_after_success, EmailField, FieldError, FormError, PasswordField, TextField,
        },
        oauth::OAuthButtons,
    },
    domain::{PASSWORD_MIN_CHARS, USERNAME_MAX_CHARS, USERNAME_MIN_CHARS},
    model::SignupEmail,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn SignupPage() -> impl IntoView {
    let signup = ServerAction::<Signup>::new();
    navigate_after_success(signup);
    let error = action_error(signup);
    let field_error = FieldError {
        error,
        id: "signup-error",
    };
    // After a failed post without JavaScript, the typed username comes back (once).
    let typed = crate::model::load(|| (), |_| typed_username());
    let settings = crate::model::load(|| (), |_| auth_settings());
    // Where the visitor was going when they were asked to sign in: after the new account
    // is made, they land there, whichever way they sign up.
    let next = use_query_map().read_untracked().get("next").unwrap_or_default();
    let login_href = if next.is_empty() {
        "/login".to_owned()
    } else {
        format!("/login?next={}", crate::domain::encode_query_value(&next))
    };
    let next_for_oauth = next.clone();

    view! {
        <Title text="Create an account" />
        <section class="card auth-card">
            <h1>"Create an account"</h1>
            <ActionForm action=signup>
                <FormError error id="signup-error" />
                <input type="hidden" name="next" value=next />
                <Suspense fallback=move || view! { <TextField label="Username" name="username" autocomplete="username" hint=username_hint() error=field_error /> }>
                    {move || Suspend::new(async move {
                        let value = typed.await.ok().flatten().unwrap_or_default();
                        view! { <TextField label="Username" name="username" autocomplete="username" value hint=username_hint() error=field_error /> }
                    })}
                </Suspense>
                <Suspense fallback=move || {
                    view! { <PasswordField label="Password" name="password" autocomplete="new-password" hint=password_hint(PASSWORD_MIN_CHARS) error=field_error /> }
                }>
                    {move || Suspend::new(async move {
                        let min = settings.await.map(|s| s.password_min_length).unwrap_or(PASSWORD_MIN_CHARS);
                        view! { <PasswordField label="Password" name="password" autocomplete="new-password" hint=password_hint(min) error=field_error /> }
                    })}
                </Suspense>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let asked = settings.await.map(|s| s.signup_email).unwrap_or_default();
                        match asked {
                            SignupEmail::Off => ().into_any(),
                            SignupEmail::Optional => view! {
                                <EmailField
                                    label="E-mail address (optional)"
                                    required=false
                                    error=field_error
                                    hint="For a link to reset your password if you forget it. We'll ask you to verify it.".to_owned()
                                />
                            }
                                .into_any(),
                            SignupEmail::Required => view! {
                                <EmailField
                                    label="E-mail address"
                                    error=field_error
                                    hint="We'll send a link to verify it, and a link to reset your password if you forget it.".to_owned()
                                />
                            }
                                .into_any(),
                        }
                    })}
                </Suspense>
                <button type="submit" class="button primary wide">"Create account"</button>
            </ActionForm>
            <OAuthButtons settings next=next_for_oauth verb="Sign up" />
            <p class="switch">"Already have an account? " <A href=login_href>"Sign in"</A></p>
        </section>
    }
}

/// The username rule, from the same limits the server enforces.
fn username_hint() -> String {
    format!("{USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters: letters, digits, '_', '-' and '.'.")
}

fn password_hint(min: usize) -> String {
    format!("At least {min} characters. A few unrelated words make a strong password.")
}
