//! `/settings/account` and `/settings/sessions`.

use crate::{
    api::email::{ChangeEmail, ResendVerification},
    api::settings::{
        load_account, my_sessions, ChangePassword, DeleteAccount, RevokeOtherSessions, RevokeSession,
    },
    components::{
        authorized::Authorized,
        form::{
            action_error, navigate_after_success, navigate_on_success, EmailField, FieldError, FormError,
            PasswordField,
        },
        local_time::LocalTime,
        oauth::LinkedAccounts,
        settings_tabs::{DoneNotice, SettingsTabs},
    },
    model::{AccountOverview, EmailState},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AccountSettingsPage() -> impl IntoView {
    view! {
        <Title text="Account settings" />
        <Authorized render=|_| view! { <AccountSettings /> }.into_any() />
    }
}

#[component]
fn AccountSettings() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    let delete = ServerAction::<DeleteAccount>::new();
    navigate_after_success(change);
    navigate_after_success(delete);
    let query = use_query_map();
    let account = crate::model::load(
        move || (change.version().get(), query.read().get("done")),
        |_| load_account(),
    );
    view! {
        <SettingsTabs />
        <section class="card">
            <h1>"Account"</h1>
            <DoneNotice />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match account.await {
                        Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                        Ok(account) => view! { <AccountForms account change delete /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AccountForms(
    account: AccountOverview,
    change: ServerAction<ChangePassword>,
    delete: ServerAction<DeleteAccount>,
) -> impl IntoView {
    let change_error = action_error(change);
    let delete_error = action_error(delete);
    let has_password = account.has_password;
    let username = account.username.clone();
    let change_field = FieldError {
        error: change_error,
        id: "password-error",
    };
    let delete_field = FieldError {
        error: delete_error,
        id: "delete-error",
    };
    let password_form = view! {
        <ActionForm action=change>
            <FormError error=change_error id="password-error" />
            // Lets password managers file the new password under the right account.
            <input type="text" class="visually-hidden" autocomplete="username" value=username readonly tabindex="-1" aria-hidden="true" />
            {has_password.then(|| view! {
                <PasswordField label="Current password" name="current_password" autocomplete="current-password" error=change_field />
            })}
            <PasswordField
                label="New password"
                name="new_password"
                autocomplete="new-password"
                hint="Saving signs out every other session.".to_owned()
                error=change_field
            />
            <button type="submit" class="button primary">
                {if has_password { "Change password" } else { "Set password" }}
            </button>
        </ActionForm>
    };
    let delete_form = if has_password {
        view! {
            <ActionForm action=delete>
                <FormError error=delete_error id="delete-error" />
                <PasswordField label="Your password" name="password" autocomplete="current-password" error=delete_field />
                <button type="submit" class="button danger">"Delete my account"</button>
            </ActionForm>
        }
        .into_any()
    } else if account.recently_authenticated {
        view! {
            <ActionForm action=delete>
                <FormError error=delete_error />
                <p>"You signed in a few minutes ago, so no password is needed."</p>
                <button type="submit" class="button danger">"Delete my account"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <FormError error=delete_error />
            <p class="alert alert-warning">
                "To delete an account without a password, "
                <a href="/reauth?next=/settings/account">"confirm it's you"</a>
                " first."
            </p>
        }
        .into_any()
    };
    view! {
        <EmailSection email=account.email.clone() />
        <h2>"Password"</h2>
        {if has_password {
            view! { <p class="muted">"Change the password you sign in with."</p> }.into_any()
        } else {
            view! { <p class="muted">"Your account has no password yet. Set one to sign in with your username as well."</p> }.into_any()
        }}
        {password_form}
        <LinkedAccounts account=account.clone() />
        <h2 class="danger-heading">"Delete account"</h2>
        <p class="muted">"This deletes your account, its sessions and its connected sign-in methods. It can't be undone."</p>
        {delete_form}
    }
}

/// The address, its state, "Resend", and the form that changes it.
#[component]
fn EmailSection(email: EmailState) -> impl IntoView {
    let change = ServerAction::<ChangeEmail>::new();
    let resend = ServerAction::<ResendVerification>::new();
    navigate_on_success(change);
    navigate_on_success(resend);
    let change_error = action_error(change);
    let resend_error = action_error(resend);
    let has_address = email.address.is_some();
    let can_resend = (has_address && !email.verified) || email.pending.is_some();
    let status = match (&email.address, email.verified) {
        (None, _) => view! { <p class="muted" data-testid="email-state">"No address yet. Add one to be able to reset your password by e-mail."</p> }.into_any(),
        (Some(address), true) => view! {
            <p data-testid="email-state"><strong>{address.clone()}</strong> " " <span class="badge success">"verified"</span></p>
        }
            .into_any(),
        (Some(address), false) => view! {
            <p data-testid="email-state"><strong>{address.clone()}</strong> " " <span class="badge warning">"not verified"</span></p>
        }
            .into_any(),
    };
    view! {
        <h2>"E-mail address"</h2>
        {status}
        {email.pending.map(|pending| view! {
            <p class="alert alert-warning" data-testid="email-pending">
                "Waiting for you to open the link sent to " <strong>{pending}</strong> ". Until then your current address stays."
            </p>
        })}
        {can_resend.then(|| view! {
            <ActionForm action=resend>
                <FormError error=resend_error />
                <button type="submit" class="button">"Resend the link"</button>
            </ActionForm>
        })}
        <ActionForm action=change>
            <FormError error=change_error />
            <EmailField
                label=if has_address { "New address" } else { "Address" }
                hint="We'll send a link to verify it. Changing it needs a recent sign-in.".to_owned()
            />
            <button type="submit" class="button primary">{if has_address { "Change address" } else { "Add address" }}</button>
        </ActionForm>
    }
}

#[component]
pub fn SessionSettingsPage() -> impl IntoView {
    view! {
        <Title text="Sessions" />
        <Authorized render=|_| view! { <SessionSettings /> }.into_any() />
    }
}

#[component]
fn SessionSettings() -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let others = ServerAction::<RevokeOtherSessions>::new();
    navigate_after_success(revoke);
    navigate_after_success(others);
    let error = action_error(revoke);
    let query = use_query_map();
    let sessions = crate::model::load(
        move || {
            (
                revoke.version().get(),
                others.version().get(),
                query.read().get("done"),
            )
        },
        |_| my_sessions(),
    );
    view! {
        <SettingsTabs />
        <section class="card">
            <h1>"Sessions"</h1>
            <p class="muted">"Where your account is signed in. Sign out any session you don't recognise."</p>
            <DoneNotice />
            <FormError error />
            <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match sessions.await {
                        Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                        Ok(list) => {
                            let count = list.len();
                            let rows = list
                                .into_iter()
                                .map(|s| {
                                    let action = if s.current {
                                        view! { <span class="badge accent" data-testid="this-device">"This device"</span> }.into_any()
                                    } else {
                                        view! {
                                            <ActionForm action=revoke>
                                                <input type="hidden" name="handle" value=s.handle.clone() />
                                                <button type="submit" class="button small">"Sign out"</button>
                                            </ActionForm>
                                        }
                                            .into_any()
                                    };
                                    view! {
                                        <tr data-testid="session-row">
                                            <td>
                                                {s.device}
                                                {s.viewed_by_admin.then(|| view! {
                                                    " " <span class="badge" data-testid="viewed-by-admin">"viewed by an administrator"</span>
                                                })}
                                            </td>
                                            <td>{s.ip.unwrap_or_else(|| "—".to_owned())}</td>
                                            <td><LocalTime at=s.created_at /></td>
                                            <td><LocalTime at=s.last_seen_at /></td>
                                            <td>{action}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <div class="table-wrap">
                                    <table>
                                        <thead>
                                            <tr>
                                                <th scope="col">"Device"</th>
                                                <th scope="col">"IP address"</th>
                                                <th scope="col">"Signed in"</th>
                                                <th scope="col">"Last seen"</th>
                                                <th scope="col"><span class="visually-hidden">"Action"</span></th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                                {(count > 1).then(|| view! {
                                    <ActionForm action=others>
                                        <button type="submit" class="button danger">"Sign out all other sessions"</button>
                                    </ActionForm>
                                })}
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
