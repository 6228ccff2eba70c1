//! `/admin`: users (search, paging, a role form per row) and the audit trail.

use crate::{
    api::admin::{
        admin_events, admin_users, DeleteUser, DisableUser, EnableUser, SetRole, SignOutUser, UnlockUser,
        ViewAs,
    },
    components::{
        authorized::Authorized,
        form::{action_error, navigate_after_success, FormError},
        local_time::LocalTime,
    },
    domain::encode_query_value,
    model::{AuditKind, SessionUser},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn AdminPage() -> impl IntoView {
    view! {
        <Title text="Admin" />
        <Authorized render=|user| view! { <AdminPanel viewer=user /> }.into_any() />
    }
}

fn number(value: Option<String>) -> i64 {
    value
        .and_then(|v| v.parse().ok())
        .filter(|n| *n >= 1)
        .unwrap_or(1)
}

/// `/admin?…` with the given parameters, dropping empty ones.
fn admin_href(params: &[(&str, String)]) -> String {
    let query: Vec<String> = params
        .iter()
        .filter(|(_, v)| !v.is_empty() && v != "1")
        .map(|(k, v)| format!("{k}={}", encode_query_value(v)))
        .collect();
    if query.is_empty() {
        "/admin".to_owned()
    } else {
        format!("/admin?{}", query.join("&"))
    }
}

#[component]
fn AdminPanel(viewer: SessionUser) -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let state = move || query.read().get("state").unwrap_or_default();
    let page = move || number(query.read().get("page"));
    let kind = move || query.read().get("kind").unwrap_or_default();
    let who = move || query.read().get("who").unwrap_or_default();
    let events_page = move || number(query.read().get("events"));

    let set_role = ServerAction::<SetRole>::new();
    let unlock = ServerAction::<UnlockUser>::new();
    let disable = ServerAction::<DisableUser>::new();
    let enable = ServerAction::<EnableUser>::new();
    let sign_out = ServerAction::<SignOutUser>::new();
    let delete = ServerAction::<DeleteUser>::new();
    let view_as = ServerAction::<ViewAs>::new();
    navigate_after_success(view_as);
    let view_as_error = action_error(view_as);
    let sign_out_error = action_error(sign_out);
    let delete_error = action_error(delete);
    let role_error = action_error(set_role);
    let unlock_error = action_error(unlock);
    let disable_error = action_error(disable);
    let enable_error = action_error(enable);
    let error = Signal::derive(move || {
        role_error
            .get()
            .or_else(|| unlock_error.get())
            .or_else(|| disable_error.get())
            .or_else(|| enable_error.get())
            .or_else(|| sign_out_error.get())
            .or_else(|| delete_error.get())
            .or_else(|| view_as_error.get())
    });
    let changes = move || {
        (
            set_role.version().get(),
            unlock.version().get(),
            disable.version().get(),
            enable.version().get(),
            sign_out.version().get(),
            delete.version().get(),
        )
    };
    let users = crate::model::load(
        move || (q(), state(), page(), changes()),
        |(q, state, page, _)| admin_users(q, page, Some(state)),
    );
    let events = crate::model::load(
        move || (kind(), who(), events_page(), changes()),
        |(kind, who, page, _)| admin_events(kind, who, page),
    );
    let done = move || {
        set_role
            .value()
            .get()
            .and_then(Result::ok)
            .or_else(|| unlock.value().get().and_then(Result::ok))
            .or_else(|| disable.value().get().and_then(Result::ok))
            .or_else(|| enable.value().get().and_then(Result::ok))
            .or_else(|| sign_out.value().get().and_then(Result::ok))
            .or_else(|| delete.value().get().and_then(Result::ok))
    };

    view! {
        <section class="card">
            <h1>"Admin"</h1>
            <p class="muted">
                "Signed in as " <strong>{viewer.username.clone()}</strong> " (" {viewer.role.as_str()} "). "
                {if viewer.role == crate::model::Role::Owner {
                    "Owners can give any role; the last owner can't be demoted."
                } else {
                    "Admins can give the roles none and user to users below admin."
                }}
            </p>
            <h2>"Users"</h2>
            <form method="get" action="/admin">
                <div class="toolbar">
                    <div class="field">
                        <label for="user-search">"Username starts with"</label>
                        <input id="user-search" type="search" name="q" value=q maxlength="64" autocomplete="off" />
                    </div>
                    <label class="checkbox">
                        <input type="checkbox" name="state" value="disabled" checked=move || state() == "disabled" />
                        "Disabled only"
                    </label>
                    <button type="submit" class="button">"Search"</button>
                </div>
            </form>
            <FormError error />
            <div aria-live="polite">
                {move || done().map(|message| view! { <p class="alert alert-success" data-testid="role-changed">{message}</p> })}
            </div>
            <Transition fallback=|| view! { <p class="muted">"Loading users…"</p> }>
                {move || Suspend::new(async move {
                    match users.await {
                        Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                        Ok(list) => {
                            let pages = list.pages();
                            let current = list.page;
                            let total = list.total;
                            let rows = list
                                .users
                                .into_iter()
                                .map(|user| {
                                    let mut methods = Vec::new();
                                    if user.has_password { methods.push("password"); }
                                    if user.has_github { methods.push("GitHub"); }
                                    if user.has_google { methods.push("Google"); }
                                    if user.two_factor { methods.push("two-factor"); }
                                    let current_role = user.role;
                                    let form = if user.assignable.is_empty() {
                                        view! { <span class="muted">"—"</span> }.into_any()
                                    } else {
                                        let options = user
                                            .assignable
                                            .iter()
                                            .map(|role| {
                                                view! {
                                                    <option value=role.as_str() selected=*role == current_role>
                                                        {role.as_str()}
                                                    </option>
                                                }
                                            })
                                            .collect_view();
                                        let label = format!("Role of {}", user.username);
                                        view! {
                                            <ActionForm action=set_role>
                                                <div class="inline-form">
                                                    <input type="hidden" name="user_id" value=user.id />
                                                    <select name="role" aria-label=label>{options}</select>
                                                    <button type="submit" class="button small">"Save"</button>
                                                </div>
                                            </ActionForm>
                                        }
                                            .into_any()
                                    };
                                    let lock_text = match (user.locked_until, user.failed_attempts) {
                                        (Some(until), _) => Some(view! { "locked until " <LocalTime at=until /> }.into_any()),
                                        (None, 0) => None,
                                        (None, 1) => Some("1 failed sign-in".into_any()),
                                        (None, n) => Some(format!("{n} failed sign-ins").into_any()),
                                    };
                                    let lock = lock_text.map(|text| {
                                        view! {
                                            <span class="badge danger" data-testid="user-locked">{text}</span>
                                            <ActionForm action=unlock>
                                                <input type="hidden" name="user_id" value=user.id />
                                                <button type="submit" class="button small">"Unlock"</button>
                                            </ActionForm>
                                        }
                                    });
                                    let status = match (&user.disabled, user.can_disable) {
                                        (Some(disabled), can) => {
                                            let text = match disabled.until {
                                                Some(until) => view! { "disabled until " <LocalTime at=until /> }.into_any(),
                                                None => "disabled".into_any(),
                                            };
                                            let reason = disabled.reason.clone();
                                            view! {
                                                <span class="badge danger" data-testid="user-disabled" title=reason.clone()>{text}</span>
                                                {reason.map(|r| view! { <span class="muted small">{r}</span> })}
                                                {can.then(|| view! {
                                                    <ActionForm action=enable>
                                                        <input type="hidden" name="user_id" value=user.id />
                                                        <button type="submit" class="button small">"Enable"</button>
                                                    </ActionForm>
                                                })}
                                            }
                                                .into_any()
                                        }
                                        (None, true) => {
                                            let label = format!("Disable {}", user.username);
                                            view! {
                                                <details class="disable">
                                                    <summary>"Disable…"</summary>
                                                    <ActionForm action=disable>
                                                        <input type="hidden" name="user_id" value=user.id />
                                                        <label>
                                                            "Reason (admins only)"
                                                            <input type="text" name="reason" maxlength="500" autocomplete="off" />
                                                        </label>
                                                        <label>
                                                            "Until (UTC, empty: until enabled)"
                                                            <input type="datetime-local" name="until" />
                                                        </label>
                                                        <button type="submit" class="button small danger" aria-label=label>"Disable"</button>
                                                    </ActionForm>
                                                </details>
                                            }
                                                .into_any()
                                        }
                                        (None, false) => ().into_any(),
                                    };
                                    let more = user.can_disable.then(|| {
                                        let sign_out_label = format!("Sign {} out everywhere", user.username);
                                        let delete_label = format!("Delete {}", user.username);
                                        view! {
                                            <details class="disable">
                                                <summary>"Sign out or delete…"</summary>
                                                <ActionForm action=sign_out>
                                                    <input type="hidden" name="user_id" value=user.id />
                                                    <button type="submit" class="button small" aria-label=sign_out_label>"Sign out everywhere"</button>
                                                </ActionForm>
                                                <ActionForm action=delete>
                                                    <input type="hidden" name="user_id" value=user.id />
                                                    <label class="checkbox">
                                                        <input type="checkbox" name="confirm" value="yes" required />
                                                        "Delete for good"
                                                    </label>
                                                    <button type="submit" class="button small danger" aria-label=delete_label>"Delete"</button>
                                                </ActionForm>
                                            </details>
                                        }
                                    });
                                    let view_as_form = (user.can_view_as && user.disabled.is_none()).then(|| {
                                        let label = format!("View as {}", user.username);
                                        view! {
                                            <ActionForm action=view_as>
                                                <input type="hidden" name="user_id" value=user.id />
                                                <button type="submit" class="button small" aria-label=label>"View as"</button>
                                            </ActionForm>
                                        }
                                    });
                                    view! {
                                        <tr data-username=user.username.clone()>
                                            <td>{user.username.clone()} {lock} {status} {view_as_form} {more}</td>
                                            <td><span class="badge" data-testid="user-role">{user.role.as_str()}</span></td>
                                            <td><LocalTime at=user.created_at date_only=true /></td>
                                            <td>{match user.last_seen_at {
                                                Some(at) => view! { <LocalTime at /> }.into_any(),
                                                None => "never".into_any(),
                                            }}</td>
                                            <td>{methods.join(", ")}</td>
                                            <td>{form}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            let q_now = q();
                            let prev = (current > 1).then(|| admin_href(&[("q", q_now.clone()), ("page", (current - 1).to_string())]));
                            let next = (current < pages).then(|| admin_href(&[("q", q_now.clone()), ("page", (current + 1).to_string())]));
                            view! {
                                <div class="table-wrap">
                                    <table>
                                        <thead>
                                            <tr>
                                                <th scope="col">"Username"</th>
                                                <th scope="col">"Role"</th>
                                                <th scope="col">"Created"</th>
                                                <th scope="col">"Last seen"</th>
                                                <th scope="col">"Signs in with"</th>
                                                <th scope="col">"Change role"</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Users pages">
                                    <span>{prev.map(|href| view! { <A href=href>"← Previous"</A> })}</span>
                                    <span class="muted">{format!("Page {current} of {pages} · {total} users")}</span>
                                    <span>{next.map(|href| view! { <A href=href>"Next →"</A> })}</span>
                                </nav>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
        <section class="card">
            <h2>"Recent activity"</h2>
            <form method="get" action="/admin">
                <div class="toolbar">
                    <input type="hidden" name="q" value=q />
                    <div class="field">
                        <label for="event-kind">"Kind"</label>
                        <select id="event-kind" name="kind">
                            <option value="" selected=move || kind().is_empty()>"all"</option>
                            {AuditKind::ALL
                                .into_iter()
                                .map(|k| view! { <option value=k.as_str() selected=move || kind() == k.as_str()>{k.as_str()}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="event-user">"Username"</label>
                        <input id="event-user" type="search" name="who" value=who maxlength="64" autocomplete="off" />
                    </div>
                    <button type="submit" class="button">"Filter"</button>
                </div>
            </form>
            <Transition fallback=|| view! { <p class="muted">"Loading events…"</p> }>
                {move || Suspend::new(async move {
                    match events.await {
                        Err(e) => view! { <p class="alert alert-error">{e.message}</p> }.into_any(),
                        Ok(list) => {
                            let current = list.page;
                            let base = [("q", q()), ("kind", kind()), ("who", who())];
                            let link = |n: i64| {
                                let mut params = base.to_vec();
                                params.push(("events", n.to_string()));
                                admin_href(&params)
                            };
                            let prev = (current > 1).then(|| link(current - 1));
                            let next = list.has_more.then(|| link(current + 1));
                            let rows = list
                                .events
                                .into_iter()
                                .map(|e| {
                                    view! {
                                        <tr>
                                            <td><LocalTime at=e.at /></td>
                                            <td>
                                                <span class="badge">{e.kind}</span>
                                                {(e.occurrences > 1).then(|| view! { <span class="muted" data-testid="occurrences">{format!(" ×{}", e.occurrences)}</span> })}
                                            </td>
                                            <td>{e.username.unwrap_or_else(|| "—".to_owned())}</td>
                                            <td>{e.actor.unwrap_or_default()}</td>
                                            <td>{e.ip.unwrap_or_default()}</td>
                                            <td>{e.detail.unwrap_or_default()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view();
                            view! {
                                <div class="table-wrap">
                                    <table data-testid="audit-table">
                                        <thead>
                                            <tr>
                                                <th scope="col">"When"</th>
                                                <th scope="col">"Event"</th>
                                                <th scope="col">"User"</th>
                                                <th scope="col">"By"</th>
                                                <th scope="col">"IP"</th>
                                                <th scope="col">"Detail"</th>
                                            </tr>
                                        </thead>
                                        <tbody>{rows}</tbody>
                                    </table>
                                </div>
                                <nav class="pager" aria-label="Event pages">
                                    <span>{prev.map(|href| view! { <A href=href>"← Newer"</A> })}</span>
                                    <span class="muted">{format!("Page {current}")}</span>
                                    <span>{next.map(|href| view! { <A href=href>"Older →"</A> })}</span>
                                </nav>
                            }
                                .into_any()
                        }
                    }
                })}
            </Transition>
        </section>
    }
}
