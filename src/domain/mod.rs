//! Values that are valid by construction: parse, don't validate.
//!
//! The same parsers run in the browser (for early feedback) and on the server (the
//! authority), so both sides agree on what a username or a password is.

mod local_path;
mod password;
mod secret;
mod username;

pub use local_path::{encode_query_value, LocalPath};
pub use password::{
    normalise_for_verification, Password, PasswordError, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS,
};
pub use secret::SecretString;
pub use username::{Username, UsernameError, USERNAME_MAX_CHARS, USERNAME_MIN_CHARS};
