//! A browser midway through a ceremony: what kind it is, and the handle that finds it.
//! The rows live in one table, `ceremonies` (`db::ceremonies`); the browser holds only
//! the handle, in a cookie, and the table only the handle's SHA-256.

use sha2::{Digest, Sha256};

/// The kinds of ceremony.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A sign-in whose first factor was right, waiting for the code.
    SecondFactor,
    /// A passkey being registered by a signed-in user.
    PasskeyRegistration,
    /// A passkey sign-in: the challenge the browser's authenticator must sign.
    PasskeySignIn,
    /// A round-trip to an OAuth provider: its state, PKCE verifier and purpose.
    OAuth,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::SecondFactor => "second_factor",
            Kind::PasskeyRegistration => "passkey_registration",
            Kind::PasskeySignIn => "passkey_sign_in",
            Kind::OAuth => "oauth",
        }
    }
}

/// A ceremony's handle: 256 random bits, written as 52 lowercase base32 characters, for
/// the browser's cookie.
pub struct Handle(String);

impl Handle {
    pub fn generate() -> Handle {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        Handle(data_encoding::BASE32_NOPAD.encode(&bytes).to_ascii_lowercase())
    }

    /// What the cookie carries.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The key of its row.
    pub fn id(&self) -> String {
        id_of(&self.0)
    }
}

/// The key of the row a cookie's handle finds: its SHA-256, in hex (a database read
/// does not give anyone a handle to present).
pub fn id_of(handle: &str) -> String {
    hex::encode(Sha256::digest(handle.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_random_and_found_by_their_hash() {
        let a = Handle::generate();
        let b = Handle::generate();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 52);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c)));
        assert_eq!(a.id(), id_of(a.expose()));
        assert_eq!(
            id_of("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(a.id(), a.expose());
    }
}
