use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A secret typed by a user (a password). It prints as `[redacted]`, has no `Display`,
/// and the server refuses to serialise it: it can travel from the browser to the
/// server function, never back out of the server into a log or a response.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        SecretString(value.into())
    }

    /// The secret itself, for the few places that must read it (hashing, checks).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(value: String) -> Self {
        SecretString(value)
    }
}

impl<'de> Deserialize<'de> for SecretString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SecretString)
    }
}

impl Serialize for SecretString {
    /// The browser sends the secret to the server function; the server never emits one.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if cfg!(feature = "ssr") {
            Err(serde::ser::Error::custom(
                "secrets are never serialised by the server",
            ))
        } else {
            serializer.serialize_str(&self.0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_do_not_show_in_debug_output() {
        let secret = SecretString::new("hunter2-correct-horse");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert_eq!(format!("{:?}", Some(secret.clone())), "Some([redacted])");
        assert_eq!(secret.expose(), "hunter2-correct-horse");
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_refuses_to_serialise_a_secret() {
        let secret = SecretString::new("hunter2-correct-horse");
        assert!(serde_json::to_string(&secret).is_err());
        let back: SecretString = serde_json::from_str("\"typed\"").expect("deserialises");
        assert_eq!(back.expose(), "typed");
    }
}
