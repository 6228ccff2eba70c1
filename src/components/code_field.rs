//! The field a one-time code is typed into.

use leptos::prelude::*;

/// The field a code is typed into (six digits, or a recovery code).
#[component]
pub fn CodeField(label: &'static str) -> impl IntoView {
    view! {
        <div class="field">
            <label for="field-code">{label}</label>
            <input
                id="field-code"
                name="code"
                type="text"
                inputmode="text"
                autocomplete="one-time-code"
                autocapitalize="none"
                spellcheck="false"
                required
                maxlength="32"
            />
        </div>
    }
}
