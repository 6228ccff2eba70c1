use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Fewest characters in a username.
pub const USERNAME_MIN_CHARS: usize = 3;
/// Most characters in a username.
pub const USERNAME_MAX_CHARS: usize = 32;

/// A valid username: after NFKC, 3–32 ASCII letters, digits, `_`, `-` or `.`,
/// starting with a letter or a digit. Two usernames are the same account when
/// their [`Username::key`]s are equal, so `Ａlice`, `ALICE` and `alice` are one name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Username {
    display: String,
    key: String,
}

/// Why a string is not a username; the message is shown on the sign-up form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UsernameError {
    #[error("Choose a username.")]
    Empty,
    #[error("Usernames are {USERNAME_MIN_CHARS} to {USERNAME_MAX_CHARS} characters long.")]
    Length,
    #[error("Usernames may use only letters a–z, digits, '_', '-' and '.'.")]
    Characters,
    #[error("Usernames start with a letter or a digit.")]
    Start,
}

impl Username {
    /// Parses what a person typed. Surrounding whitespace is ignored; everything else counts.
    pub fn parse(input: &str) -> Result<Username, UsernameError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(UsernameError::Empty);
        }
        // NFKC never turns one character into none, so a long input is refused before the
        // (allocating) normalisation runs: a 10 kB string costs a count, not a copy.
        if trimmed.chars().count() > USERNAME_MAX_CHARS * 4 {
            return Err(UsernameError::Length);
        }
        let display: String = trimmed.nfkc().collect();
        let length = display.chars().count();
        if !(USERNAME_MIN_CHARS..=USERNAME_MAX_CHARS).contains(&length) {
            // Non-ASCII input that is the wrong length is still a character problem first.
            if display.is_ascii() {
                return Err(UsernameError::Length);
            }
            return Err(UsernameError::Characters);
        }
        if !display
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(UsernameError::Characters);
        }
        if !display.as_bytes()[0].is_ascii_alphanumeric() {
            return Err(UsernameError::Start);
        }
        let key = display.to_ascii_lowercase();
        Ok(Username { display, key })
    }

    /// The name as the person typed it (after NFKC), for display.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The unique, case-insensitive form stored in `users.username_key`.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_usernames_keep_their_case_and_share_a_lowercase_key() {
        let cases = [
            ("alice", "alice", "alice"),
            ("Alice", "Alice", "alice"),
            ("ALICE", "ALICE", "alice"),
            ("\u{FF21}lice", "Alice", "alice"), // fullwidth A folds under NFKC
            ("  bob  ", "bob", "bob"),
            ("a.b-c_d", "a.b-c_d", "a.b-c_d"),
            ("007", "007", "007"),
            ("abc", "abc", "abc"),
            (
                "x234567890123456789012345678901y",
                "x234567890123456789012345678901y",
                "x234567890123456789012345678901y",
            ),
            ("\u{FB01}sh", "fish", "fish"), // the "fi" ligature becomes two letters
        ];
        for (input, display, key) in cases {
            let name = Username::parse(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(name.as_str(), display, "{input:?}");
            assert_eq!(name.key(), key, "{input:?}");
        }
    }

    #[test]
    fn confusable_spellings_are_one_account() {
        let keys: Vec<String> = ["\u{FF21}lice", "ALICE", "alice", "aLiCe"]
            .iter()
            .map(|s| Username::parse(s).expect("valid").key().to_owned())
            .collect();
        assert!(keys.iter().all(|k| k == "alice"), "{keys:?}");
    }

    #[test]
    fn invalid_usernames_say_why() {
        let long = "a".repeat(10_000);
        let cases: &[(&str, UsernameError)] = &[
            ("", UsernameError::Empty),
            ("   ", UsernameError::Empty),
            ("\t\n", UsernameError::Empty),
            ("ab", UsernameError::Length),
            ("a23456789012345678901234567890123", UsernameError::Length),
            (&long, UsernameError::Length),
            ("al ice", UsernameError::Characters),
            ("alice!", UsernameError::Characters),
            ("al@ice", UsernameError::Characters),
            ("ali\u{0301}ce", UsernameError::Characters), // combining acute accent
            ("caf\u{00E9}", UsernameError::Characters),
            ("\u{200F}alice", UsernameError::Characters), // right-to-left mark
            ("alice\u{202E}", UsernameError::Characters), // right-to-left override
            ("al\u{0000}ice", UsernameError::Characters),
            ("ali\u{1F600}", UsernameError::Characters), // emoji
            ("\u{0430}lice", UsernameError::Characters), // Cyrillic a
            ("_alice", UsernameError::Start),
            (".alice", UsernameError::Start),
            ("-alice", UsernameError::Start),
        ];
        for (input, expected) in cases {
            assert_eq!(Username::parse(input).as_ref().err(), Some(expected), "{input:?}");
        }
    }

    #[test]
    fn every_error_has_a_readable_message() {
        for err in [
            UsernameError::Empty,
            UsernameError::Length,
            UsernameError::Characters,
            UsernameError::Start,
        ] {
            let message = err.to_string();
            assert!(message.ends_with('.') && message.len() > 10, "{message}");
        }
    }
}
