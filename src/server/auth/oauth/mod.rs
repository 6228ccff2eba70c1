//! Sign-in with GitHub (OAuth 2 + PKCE) and Google (OpenID Connect + PKCE), and linking
//! those accounts to existing users (docs/accounts.md "Sign in with GitHub and Google").
//!
//! The flow: `GET /auth/{provider}` (sign in) or `POST /auth/{provider}/link` (connect,
//! from the settings page) stores a one-time state in a short-lived HttpOnly cookie and
//! redirects to the provider; `GET /auth/{provider}/callback` checks the state in
//! constant time, trades the code (with the PKCE verifier) for a token, reads the user,
//! and signs in or links. Every failure ends on a 400 page that says sign-in failed,
//! with the cause in the log under the request id — never a 500, never a session.

mod client;
mod flow;
mod identity;

pub use client::OAuth;
pub use flow::{callback, start_link, start_reauth, start_sign_in};
pub use identity::{candidate, derive_username, ProviderUser};
