//! E-mail addresses as people type them (server only: the check is `lettre`'s parser).

use std::{fmt, str::FromStr};

/// Most characters in an address (the limit of the SMTP path, RFC 5321).
pub const EMAIL_MAX_CHARS: usize = 254;

/// An address that SMTP can deliver to, trimmed. Two addresses are the same account's
/// when their [`EmailAddress::key`]s (lowercase) are equal.
#[derive(Clone, PartialEq, Eq)]
pub struct EmailAddress {
    address: String,
    key: String,
}

/// Why a string is not an address; the message is shown on the form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter an e-mail address.")]
    Empty,
    #[error("E-mail addresses are at most {EMAIL_MAX_CHARS} characters long.")]
    Length,
    #[error("That is not an e-mail address. Check it for typos.")]
    Invalid,
}

impl EmailAddress {
    pub fn parse(input: &str) -> Result<EmailAddress, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.chars().count() > EMAIL_MAX_CHARS {
            return Err(EmailError::Length);
        }
        // A display name ("Ada <ada@example.com>") or a comment is not an address here:
        // the parser below accepts only the bare form, and nothing may hide around it.
        if trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ','))
        {
            return Err(EmailError::Invalid);
        }
        let parsed = lettre::Address::from_str(trimmed).map_err(|_| EmailError::Invalid)?;
        // A domain needs a dot to be reachable from the internet; `localhost` is the one
        // name a development setup uses without one.
        let domain = parsed.domain();
        if !domain.contains('.') && !domain.eq_ignore_ascii_case("localhost") {
            return Err(EmailError::Invalid);
        }
        Ok(EmailAddress {
            address: trimmed.to_owned(),
            key: trimmed.to_lowercase(),
        })
    }

    /// The address as typed (trimmed).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// What uniqueness is decided by.
    pub fn key(&self) -> &str {
        &self.key
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("EmailAddress").field(&self.address).finish()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_and_keep_their_case() {
        let a = EmailAddress::parse("  Ada.Lovelace+gh@Example.COM ").expect("valid");
        assert_eq!(a.as_str(), "Ada.Lovelace+gh@Example.COM");
        assert_eq!(a.key(), "ada.lovelace+gh@example.com");
        assert!(EmailAddress::parse("dev@localhost").is_ok());
        assert!(EmailAddress::parse("x@sub.example.co.uk").is_ok());
    }

    #[test]
    fn what_is_not_an_address_is_refused_with_a_reason() {
        assert_eq!(EmailAddress::parse(" "), Err(EmailError::Empty));
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@@example.com",
            "ada@example",
            "ada example@example.com",
            "Ada <ada@example.com>",
            "ada@example.com, eve@example.com",
            "ada@exa mple.com",
            "ada\r\nBcc: eve@example.com@example.com",
            "ada@-example-.com",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(EmailError::Invalid), "{bad:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long), Err(EmailError::Length));
    }
}
