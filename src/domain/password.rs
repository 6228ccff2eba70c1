use super::{SecretString, Username};
use unicode_normalization::UnicodeNormalization;

/// Fewest characters a password may have (the configured minimum can only raise it).
pub const PASSWORD_MIN_CHARS: usize = 8;
/// Most characters a password may have; longer input is refused before any hashing.
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A new password that passed the policy: long enough, not too long, not trivially
/// guessable and not the username. Holds the NFKC form, so the same password typed on
/// two keyboards (composed or decomposed accents) hashes the same.
#[derive(Clone, Debug)]
pub struct Password(SecretString);

/// Why a new password is refused; the message is shown on the form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("Passwords need at least {0} characters.")]
    TooShort(usize),
    #[error("Passwords can have at most {PASSWORD_MAX_CHARS} characters.")]
    TooLong,
    #[error("Your password can't be your username.")]
    SameAsUsername,
    #[error("That password is too easy to guess. {0}")]
    Guessable(String),
}

impl Password {
    /// Checks a new password against the policy. `min_chars` is the configured minimum
    /// (`GATEHOUSE_PASSWORD_MIN_LENGTH`); values below [`PASSWORD_MIN_CHARS`] are raised to it.
    pub fn parse(
        input: &SecretString,
        username: &Username,
        min_chars: usize,
    ) -> Result<Password, PasswordError> {
        let min_chars = min_chars.clamp(PASSWORD_MIN_CHARS, PASSWORD_MAX_CHARS);
        let raw = input.expose();
        // Count before normalising: NFKC never shrinks a string to fewer characters by
        // more than a small factor, and a 1 MB paste must cost nothing.
        if raw.chars().count() > PASSWORD_MAX_CHARS * 4 {
            return Err(PasswordError::TooLong);
        }
        let normalised: String = raw.nfkc().collect();
        let length = normalised.chars().count();
        if length > PASSWORD_MAX_CHARS {
            return Err(PasswordError::TooLong);
        }
        if length < min_chars {
            return Err(PasswordError::TooShort(min_chars));
        }
        if normalised.to_lowercase() == username.key() {
            return Err(PasswordError::SameAsUsername);
        }
        check_guessability(&normalised, username)?;
        Ok(Password(SecretString::new(normalised)))
    }

    /// A password that just matched its stored hash, to re-hash it with newer
    /// parameters. It skips the policy: a stricter policy must not lock anyone out.
    pub fn already_verified(normalised: SecretString) -> Password {
        Password(normalised)
    }

    /// The normalised password, for hashing.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }
}

/// Normalises a password typed at sign-in the same way [`Password::parse`] does,
/// without the policy (an old password may predate a stricter one).
pub fn normalise_for_verification(input: &SecretString) -> Option<SecretString> {
    let raw = input.expose();
    if raw.chars().count() > PASSWORD_MAX_CHARS * 4 {
        return None;
    }
    let normalised: String = raw.nfkc().collect();
    (normalised.chars().count() <= PASSWORD_MAX_CHARS).then(|| SecretString::new(normalised))
}

/// zxcvbn's estimate must reach 2 ("somewhat guessable": ~10^6 guesses or more).
/// The dictionaries are large, so the estimate runs on the server only.
#[cfg(feature = "ssr")]
fn check_guessability(password: &str, username: &Username) -> Result<(), PasswordError> {
    let entropy = zxcvbn::zxcvbn(password, &[username.as_str(), username.key(), "gatehouse"]);
    if u8::from(entropy.score()) >= 2 {
        return Ok(());
    }
    let advice = entropy
        .feedback()
        .and_then(|feedback| {
            feedback
                .warning()
                .map(|w| w.to_string())
                .or_else(|| feedback.suggestions().first().map(|s| s.to_string()))
        })
        .unwrap_or_else(|| "Add another word or two. Uncommon words are better.".to_owned());
    Err(PasswordError::Guessable(advice))
}

#[cfg(not(feature = "ssr"))]
fn check_guessability(_password: &str, _username: &Username) -> Result<(), PasswordError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> Username {
        Username::parse(name).expect("valid username")
    }

    fn parse(password: &str, username: &str) -> Result<Password, PasswordError> {
        Password::parse(&SecretString::new(password), &user(username), 8)
    }

    #[test]
    fn strong_passwords_are_accepted() {
        for password in [
            "correct horse battery staple",
            "tangerine-violin-87-quietly",
            "Zq8#mW2!pL4x",
            "\u{00E9}t\u{00E9} \u{00E0} la plage de Biarritz",
            "\u{6F22}\u{5B57}\u{306E}\u{30D1}\u{30B9}\u{30EF}\u{30FC}\u{30C9}\u{3067}\u{3059}\u{3088}\u{306D}",
        ] {
            assert!(parse(password, "alice").is_ok(), "{password:?}");
        }
    }

    #[test]
    fn weak_or_malformed_passwords_are_refused_with_a_reason() {
        let long = "x".repeat(10_000);
        let cases: Vec<(&str, &str, PasswordError)> = vec![
            ("", "alice", PasswordError::TooShort(8)),
            ("short", "alice", PasswordError::TooShort(8)),
            ("1234567", "alice", PasswordError::TooShort(8)),
            (&long, "alice", PasswordError::TooLong),
            ("alice-the-user", "alice-the-user", PasswordError::SameAsUsername),
            ("ALICE-THE-USER", "alice-the-user", PasswordError::SameAsUsername),
        ];
        for (password, username, expected) in cases {
            assert_eq!(parse(password, username).err(), Some(expected), "{password:?}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn trivially_guessable_passwords_are_refused() {
        for password in [
            "password",
            "12345678",
            "qwertyuiop",
            "aaaaaaaaaa",
            "alice2024",
            "Password1",
        ] {
            match parse(password, "alice") {
                Err(PasswordError::Guessable(advice)) => assert!(!advice.is_empty()),
                other => panic!("{password:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn exactly_256_characters_is_the_limit() {
        let at_limit: String = "correct horse ".repeat(19).chars().take(256).collect();
        assert_eq!(at_limit.chars().count(), 256);
        assert!(parse(&at_limit, "alice").is_ok());
        let over: String = format!("{at_limit}z");
        assert_eq!(parse(&over, "alice").err(), Some(PasswordError::TooLong));
    }

    #[test]
    fn a_stricter_minimum_is_honoured_and_a_laxer_one_is_not() {
        let username = user("alice");
        let password = SecretString::new("tangerine-violin");
        assert_eq!(
            Password::parse(&password, &username, 20).err(),
            Some(PasswordError::TooShort(20))
        );
        let short = SecretString::new("a9#kQ2!");
        assert_eq!(
            Password::parse(&short, &username, 4).err(),
            Some(PasswordError::TooShort(8))
        );
    }

    #[test]
    fn composed_and_decomposed_accents_normalise_to_one_password() {
        let composed = normalise_for_verification(&SecretString::new("caf\u{00E9} au lait")).expect("fits");
        let decomposed =
            normalise_for_verification(&SecretString::new("cafe\u{0301} au lait")).expect("fits");
        assert_eq!(composed.expose(), decomposed.expose());
        assert!(normalise_for_verification(&SecretString::new("x".repeat(300))).is_none());
    }
}
