//! Form building blocks: labelled fields, the error region, and the glue that runs
//! after an auth action succeeds with JavaScript.

use crate::{
    components::auth::use_auth,
    domain::encode_query_value,
    model::{AppError, ErrorKind},
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::{use_location, use_navigate};

/// A form's error as its fields see it: the error, and the id of the message that
/// describes it ([`FormError`] with the same `id`).
#[derive(Clone, Copy)]
pub struct FieldError {
    pub error: Signal<Option<AppError>>,
    pub id: &'static str,
}

impl FieldError {
    /// For the field `name` described by the hint `hint_id` (if any) and, through
    /// `error`, its form's error: whether the error is about it, and its
    /// `aria-describedby` (the hint, and the message while the error is about it).
    fn state(
        error: Option<FieldError>,
        name: &str,
        hint_id: Option<String>,
    ) -> (Signal<bool>, impl Fn() -> Option<String>) {
        let invalid = match error {
            Some(FieldError { error, .. }) => {
                let name = name.to_owned();
                Signal::derive(move || {
                    error.with(|e| e.as_ref().and_then(|e| e.field.as_deref()) == Some(name.as_str()))
                })
            }
            None => Signal::stored(false),
        };
        let error_id = error.map(|e| e.id);
        let described_by = move || {
            let message = error_id.filter(|_| invalid.get());
            match (hint_id.clone(), message) {
                (Some(hint), Some(message)) => Some(format!("{hint} {message}")),
                (hint, None) => hint,
                (None, Some(message)) => Some(message.to_owned()),
            }
        };
        (invalid, described_by)
    }
}

/// The live region where a form's error appears (inline with JavaScript, after the
/// redirect without). It is always in the page so screen readers announce changes.
/// After a failed submit the focus moves to the field the error is about (its form marks
/// it `aria-invalid`), or else to the message: with JavaScript at once, without it by
/// `autofocus` in the page the server answers. An error asking the user to confirm it's
/// them leads to `/reauth`, which returns here (without JavaScript the server redirects
/// there itself). `id` names the message, for the fields' `aria-describedby`.
#[component]
pub fn FormError(
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(optional)] id: Option<&'static str>,
) -> impl IntoView {
    let navigate = use_navigate();
    let location = use_location();
    let region = NodeRef::<leptos::html::Div>::new();
    // The message takes the focus itself only when no field of the form will.
    let about_a_field = move || error.with(|e| e.as_ref().is_some_and(|e| e.field.is_some()));
    Effect::new(move |_| {
        // An error that leads to /reauth moves the page away: nothing here to focus.
        if error.with(|e| e.as_ref().is_some_and(|e| e.kind != ErrorKind::ReauthRequired)) {
            focus_after_error(region);
        }
    });
    Effect::new(move |_| {
        if error.get().is_some_and(|e| e.kind == ErrorKind::ReauthRequired) {
            let search = location.search.get_untracked();
            let here = match search.is_empty() {
                true => location.pathname.get_untracked(),
                false => format!("{}?{search}", location.pathname.get_untracked()),
            };
            navigate(
                &format!("/reauth?next={}", encode_query_value(&here)),
                Default::default(),
            );
        }
    });
    view! {
        <div class="form-error" aria-live="assertive" role="status" node_ref=region>
            {move || {
                error
                    .get()
                    .map(|e| {
                        view! {
                            <p class="alert alert-error" data-testid="form-error" id=id tabindex="-1" autofocus=!about_a_field()>
                                {e.message}
                            </p>
                        }
                    })
            }}
        </div>
    }
}

/// Moves the focus to the first field of the error's form marked invalid, or else to
/// the error's message (JavaScript only; the page does it with `autofocus` otherwise).
fn focus_after_error(region: NodeRef<leptos::html::Div>) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        // After this render: the fields' `aria-invalid` and the message are in place.
        // By then the form may be gone (the page moved on): its reference is disposed,
        // and reading it must not panic.
        request_animation_frame(move || {
            let Some(region) = region.try_get_untracked().flatten() else {
                return;
            };
            let element: &web_sys::Element = &region;
            let field = element
                .closest("form")
                .ok()
                .flatten()
                .and_then(|form| form.query_selector("[aria-invalid=\"true\"]").ok().flatten());
            let target = field.or_else(|| {
                element
                    .query_selector("[data-testid=\"form-error\"]")
                    .ok()
                    .flatten()
            });
            if let Some(target) = target.and_then(|t| t.dyn_into::<web_sys::HtmlElement>().ok()) {
                let _ = target.focus();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = region;
}

/// A labelled text input.
#[component]
pub fn TextField(
    label: &'static str,
    name: &'static str,
    autocomplete: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(default = 64)] maxlength: usize,
    #[prop(optional)] error: Option<FieldError>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    let (invalid, describedby) = FieldError::state(error, name, hint.as_ref().map(|_| hint_id.clone()));
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type="text"
                autocomplete=autocomplete
                autocapitalize="none"
                spellcheck="false"
                required
                maxlength=maxlength
                value=value.unwrap_or_default()
                aria-invalid=move || invalid.get().then_some("true")
                autofocus=move || invalid.get()
                aria-describedby=describedby
            />
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
        </div>
    }
}

/// A labelled e-mail address input (the browser checks the form, the server decides).
#[component]
pub fn EmailField(
    label: &'static str,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(default = true)] required: bool,
    #[prop(optional)] error: Option<FieldError>,
) -> impl IntoView {
    let hint_id = "field-email-hint";
    let (invalid, describedby) = FieldError::state(error, "email", hint.as_ref().map(|_| hint_id.to_owned()));
    view! {
        <div class="field">
            <label for="field-email">{label}</label>
            <input
                id="field-email"
                name="email"
                type="email"
                autocomplete="email"
                autocapitalize="none"
                spellcheck="false"
                required=required
                maxlength="254"
                value=value.unwrap_or_default()
                aria-invalid=move || invalid.get().then_some("true")
                autofocus=move || invalid.get()
                aria-describedby=describedby
            />
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
        </div>
    }
}

/// A labelled password input with a show/hide toggle. The toggle appears only once
/// the page is interactive; without JavaScript the field works as a plain input.
#[component]
pub fn PasswordField(
    label: &'static str,
    name: &'static str,
    autocomplete: &'static str,
    #[prop(optional)] hint: Option<String>,
    #[prop(optional)] error: Option<FieldError>,
) -> impl IntoView {
    let id = format!("field-{name}");
    let hint_id = format!("{id}-hint");
    let (invalid, describedby) = FieldError::state(error, name, hint.as_ref().map(|_| hint_id.clone()));
    let visible = RwSignal::new(false);
    let interactive = RwSignal::new(false);
    // Effects run only in the browser, after hydration.
    Effect::new(move |_| interactive.set(true));
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <div class="password-row">
                <input
                    id=id.clone()
                    name=name
                    type=move || if visible.get() { "text" } else { "password" }
                    autocomplete=autocomplete
                    required
                    maxlength="1024"
                    aria-invalid=move || invalid.get().then_some("true")
                    autofocus=move || invalid.get()
                    aria-describedby=describedby
                />
                <Show when=move || interactive.get()>
                    <button
                        type="button"
                        class="button ghost toggle-password"
                        aria-controls=id.clone()
                        aria-pressed=move || visible.get().to_string()
                        on:click=move |_| visible.update(|v| *v = !*v)
                    >
                        {move || if visible.get() { "Hide" } else { "Show" }}
                    </button>
                </Show>
            </div>
            {hint.map(|h| view! { <p class="hint" id=hint_id>{h}</p> })}
        </div>
    }
}

/// After a successful auth action (JavaScript only): refresh the current user and go
/// where the server function said. Without JavaScript the server redirects instead.
pub fn navigate_after_success<S>(action: ServerAction<S>)
where
    S: ServerFn<Output = String, Error = AppError> + Clone + Send + Sync + 'static,
{
    let auth = use_auth();
    follow(action, Some(auth));
}

/// Like [`navigate_after_success`] for an action that does not change who is signed in:
/// the page goes on without reloading the current user (and so without rebuilding the
/// page around it).
pub fn navigate_on_success<S>(action: ServerAction<S>)
where
    S: ServerFn<Output = String, Error = AppError> + Clone + Send + Sync + 'static,
{
    follow(action, None);
}

fn follow<S>(action: ServerAction<S>, auth: Option<crate::components::auth::AuthContext>)
where
    S: ServerFn<Output = String, Error = AppError> + Clone + Send + Sync + 'static,
{
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(path)) = action.value().get() {
            navigate(&path, Default::default());
            if let Some(auth) = auth {
                auth.refresh();
            }
        }
    });
}

/// The error of the last run of `action`, if it failed.
pub fn action_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}
