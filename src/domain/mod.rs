//! Values that are valid by construction: parse, don't validate.
//!
//! The server is the authority; the pages read the same limits (the sign-up hints quote
//! [`USERNAME_MIN_CHARS`] and the configured password length), so what a form says and
//! what the server accepts cannot drift apart.

#[cfg(feature = "ssr")]
mod email;
mod local_path;
mod password;
mod secret;
mod text;
mod username;

#[cfg(feature = "ssr")]
pub use email::{EmailAddress, EmailError, EMAIL_MAX_CHARS};
pub use local_path::{encode_query_value, percent_decode_strict, LocalPath};
pub use password::{
    normalise_for_verification, Password, PasswordError, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
};
pub use secret::SecretString;
pub use text::strip_invisible;
pub use username::{Username, UsernameError, USERNAME_MAX_CHARS, USERNAME_MIN_CHARS};
