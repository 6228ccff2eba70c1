use crate::components::{authorized::Authorized, local_time::LocalTime};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your profile" />
        <Authorized render=|user| {
            let initial = user.username.chars().next().unwrap_or('?').to_ascii_uppercase().to_string();
            let avatar = match user.avatar_url.clone() {
                Some(url) => view! { <img class="avatar" src=url alt="" width="72" height="72" referrerpolicy="no-referrer" /> }.into_any(),
                None => view! { <span class="avatar avatar-initial" aria-hidden="true">{initial}</span> }.into_any(),
            };
            view! {
                <section class="card profile">
                    <div class="profile-head">
                        {avatar}
                        <div>
                            <h1 data-testid="profile-username">{user.username.clone()}</h1>
                            {user.display_name.clone().map(|name| view! { <p class="muted">{name}</p> })}
                        </div>
                    </div>
                    <dl class="facts">
                        <dt>"Role"</dt>
                        <dd data-testid="profile-role">{user.role.as_str()}</dd>
                        <dt>"Member since"</dt>
                        <dd data-testid="profile-since"><LocalTime at=user.created_at date_only=true /></dd>
                    </dl>
                </section>
            }
            .into_any()
        } />
    }
}
