//! The Content-Security-Policy of app pages: scripts only from this origin or carrying
//! the per-response nonce that Leptos puts on its hydration scripts; styles only from
//! files; images from here and the OAuth providers' avatar hosts; no framing.

use crate::server::config::Config;
use http::{header, HeaderValue};
use leptos::nonce::use_nonce;
use leptos_axum::ResponseOptions;

/// Hosts that serve provider avatars.
const GITHUB_AVATAR_HOST: &str = "https://avatars.githubusercontent.com";
const GOOGLE_AVATAR_HOST: &str = "https://*.googleusercontent.com";

/// The page policy for `nonce`.
pub fn page_policy(nonce: &str, config: Option<&Config>) -> String {
    let mut img = String::from("'self' data:");
    let mut form_action = String::from("'self'");
    if let Some(config) = config {
        if let Some(github) = &config.github {
            img.push(' ');
            img.push_str(GITHUB_AVATAR_HOST);
            push_origin(&mut form_action, &github.auth_url);
        }
        if let Some(google) = &config.google {
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
pub fn set_page_policy(response: &ResponseOptions, config: Option<&Config>) {
    let Some(nonce) = use_nonce() else { return };
    if let Ok(value) = HeaderValue::from_str(&page_policy(&nonce, config)) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}
