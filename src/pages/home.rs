use crate::components::auth::{use_app_name, use_auth};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

/// What the home page says after an action that ends on it (`/?done=…`).
fn done_notice(done: Option<String>) -> Option<&'static str> {
    match done.as_deref() {
        Some("deleted") => Some("Your account was deleted, and you are signed out."),
        _ => None,
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = use_auth();
    let query = use_query_map();
    let name = use_app_name();
    view! {
        <Title text="" />
        {move || {
            done_notice(query.read().get("done"))
                .map(|text| view! { <p class="alert alert-success" role="status" data-testid="done">{text}</p> })
        }}
        <section class="hero">
            <h1>"Welcome to " {name.to_string()}</h1>
            <p class="lead">
                "Accounts, sessions and roles for your Leptos app: sign up with a username and password, "
                "sign in, and keep every page behind the right door."
            </p>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(user)) => {
                            view! {
                                <p class="actions">
                                    <span>"Signed in as " <strong>{user.username}</strong> ". "</span>
                                    <A href="/profile" attr:class="button primary">"Go to your profile"</A>
                                </p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <p class="actions">
                                    <A href="/signup" attr:class="button primary">"Create an account"</A>
                                    <A href="/login" attr:class="button">"Sign in"</A>
                                </p>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        <section class="features">
            <article class="card">
                <h2>"Sessions done right"</h2>
                <p>"Random tokens, stored only as SHA-256 hashes, with sliding expiry and a hard cap."</p>
            </article>
            <article class="card">
                <h2>"Strong passwords"</h2>
                <p>"argon2id hashing off the async executor, and a check against easily guessed passwords."</p>
            </article>
            <article class="card">
                <h2>"Works without JavaScript"</h2>
                <p>"Every form posts and redirects like the web always has, and feels instant when scripts run."</p>
            </article>
        </section>
    }
}
