//! The Content-Security-Policy of app pages: scripts only from this origin or carrying
//! the per-response nonce that Leptos puts on its hydration scripts; styles only from
//! files; images from here and the OAuth providers' avatar hosts; no framing.

use crate::server::state::AppState;
use http::{header, HeaderValue};
use leptos::{nonce::use_nonce, prelude::use_context};
use leptos_axum::ResponseOptions;

/// Hosts that serve provider avatars (SPEC §10).
const GITHUB_AVATAR_HOST: &str = "https://avatars.githubusercontent.com";
const GOOGLE_AVATAR_HOST: &str = "https://*.googleusercontent.com";

/// The page policy for `nonce`.
pub fn page_policy(nonce: &str, state: Option<&AppState>) -> String {
    let mut img = String::from("'self' data:");
    let mut form_action = String::from("'self'");
    if let Some(state) = state {
        if let Some(github) = &state.config.github {
            img.push(' ');
            img.push_str(GITHUB_AVATAR_HOST);
            push_origin(&mut form_action, &github.auth_url);
        }
        if let Some(google) = &state.config.google {
            img.push(' ');
            img.push_str(GOOGLE_AVATAR_HOST);
            push_origin(&mut form_action, &google.auth_url);
        }
    }
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src {img}; connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; \
         base-uri 'self'; form-action {form_action}"
    )
}

/// A form that starts an OAuth flow is answered with a redirect to the provider, and
/// `form-action` governs the whole redirect chain: the provider's origin must be allowed.
fn push_origin(list: &mut String, url: &url::Url) {
    let origin = url.origin().ascii_serialization();
    if origin != "null" && !list.contains(&origin) {
        list.push(' ');
        list.push_str(&origin);
    }
}

/// Sets the policy on the page being rendered (called from the HTML shell).
pub fn set_page_policy() {
    let Some(response) = use_context::<ResponseOptions>() else {
        return;
    };
    let Some(nonce) = use_nonce() else { return };
    let state = use_context::<AppState>();
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce, state.as_ref())) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
