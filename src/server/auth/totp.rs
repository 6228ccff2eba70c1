//! Authenticator-app codes (TOTP, RFC 6238: SHA-1, 30-second steps, six digits) and
//! recovery codes: the pieces of the second factor that are not storage or flow.
//!
//! Codes come from `totp-rs`; the `otpauth://` address and its QR code (drawn as an SVG
//! path from `qrcode`'s modules, so no image service and no script) are made here.

use data_encoding::BASE32_NOPAD;
use std::fmt;
use totp_rs::{Algorithm, TOTP};

/// Seconds per time step.
pub const STEP_SECONDS: u64 = 30;
/// Digits of a code.
pub const DIGITS: usize = 6;
/// Bytes of a secret: 160 bits, as RFC 4226 recommends.
pub const SECRET_BYTES: usize = 20;
/// Recovery codes made at a time.
pub const RECOVERY_CODES: usize = 10;
/// Characters of a recovery code (`a-z2-7`, 50 bits).
const RECOVERY_CODE_CHARS: usize = 10;

/// A TOTP secret. Printing it shows nothing.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Vec<u8>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret([redacted])")
    }
}

impl TotpSecret {
    /// A new secret from the operating system's CSPRNG.
    pub fn generate() -> TotpSecret {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        TotpSecret(bytes)
    }

    /// A secret from its bytes (as stored, once opened).
    pub fn from_bytes(bytes: Vec<u8>) -> Option<TotpSecret> {
        (bytes.len() >= 16).then_some(TotpSecret(bytes))
    }

    /// A secret from its key as shown (base32; spaces and case ignored).
    pub fn from_base32(key: &str) -> Option<TotpSecret> {
        let compact: String = key.chars().filter(|c| !c.is_whitespace()).collect();
        BASE32_NOPAD
            .decode(compact.to_ascii_uppercase().as_bytes())
            .ok()
            .and_then(TotpSecret::from_bytes)
    }

    /// The bytes, for sealing.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The key as authenticator apps take it: base32, upper case, no padding.
    pub fn base32(&self) -> String {
        BASE32_NOPAD.encode(&self.0)
    }

    /// The key in groups of four, for typing it by hand.
    pub fn grouped(&self) -> String {
        let key = self.base32();
        key.as_bytes()
            .chunks(4)
            .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The `otpauth://totp/<issuer>:<account>?secret=…&issuer=…` address of the key.
    pub fn uri(&self, issuer: &str, account: &str) -> String {
        let label = format!("{issuer}:{account}");
        format!(
            "otpauth://totp/{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            crate::domain::encode_query_value(&label).replace("%3A", ":"),
            self.base32(),
            crate::domain::encode_query_value(issuer),
        )
    }

    fn totp(&self, digits: usize) -> TOTP {
        TOTP::new_unchecked(Algorithm::SHA1, digits, 0, STEP_SECONDS, self.0.clone())
    }

    /// The code of time step `step`.
    pub fn code_at_step(&self, step: u64) -> String {
        self.totp(DIGITS).generate(step * STEP_SECONDS)
    }

    /// The time step (the one of `now`, or one either side, for clock drift) whose code
    /// `code` is; `None` when it is none of them.
    pub fn matching_step(&self, code: &str, now: u64) -> Option<u64> {
        let code = code.trim();
        if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let current = now / STEP_SECONDS;
        [current.saturating_sub(1), current, current + 1]
            .into_iter()
            .find(|step| {
                let expected = self.code_at_step(*step);
                bool::from(subtle::ConstantTimeEq::ct_eq(
                    expected.as_bytes(),
                    code.as_bytes(),
                ))
            })
    }
}

/// The current time step.
pub fn current_step(now: u64) -> u64 {
    now / STEP_SECONDS
}

/// A QR code of `text` as an inline SVG element (black modules on white, a quiet zone of
/// four modules), or `None` when the text does not fit in a QR code.
pub fn qr_svg(text: &str) -> Option<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).ok()?;
    let width = code.width();
    let quiet = 4;
    let size = width + 2 * quiet;
    let mut path = String::new();
    for (i, color) in code.to_colors().into_iter().enumerate() {
        if color == qrcode::Color::Dark {
            let (x, y) = (i % width + quiet, i / width + quiet);
            path.push_str(&format!("M{x} {y}h1v1h-1z"));
        }
    }
    Some(format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\" width=\"200\" height=\"200\" \
         shape-rendering=\"crispEdges\" role=\"img\" aria-label=\"QR code of the key\">\
         <rect width=\"{size}\" height=\"{size}\" fill=\"#ffffff\"/><path d=\"{path}\" fill=\"#000000\"/></svg>"
    ))
}

/// A new recovery code: ten characters of `a-z2-7`.
pub fn new_recovery_code() -> String {
    let mut bytes = [0u8; 7];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    BASE32_NOPAD.encode(&bytes).to_ascii_lowercase()[..RECOVERY_CODE_CHARS].to_owned()
}

/// A recovery code as shown: `xxxxx-xxxxx`.
pub fn show_recovery_code(code: &str) -> String {
    let (a, b) = code.split_at(code.len().min(RECOVERY_CODE_CHARS / 2));
    format!("{a}-{b}")
}

/// A typed recovery code in its stored form: case, spaces and hyphens ignored. `None`
/// when it cannot be one.
pub fn normalise_recovery_code(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    (code.len() == RECOVERY_CODE_CHARS
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)))
    .then_some(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238, appendix B: the SHA-1 secret is "12345678901234567890" and codes have
    /// eight digits.
    #[test]
    fn the_codes_of_rfc_6238_appendix_b() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890".to_vec()).expect("secret");
        for (time, code) in [
            (59u64, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(secret.totp(8).generate(time), code, "T = {time}");
            // Six digits are the last six of the eight.
            assert_eq!(secret.code_at_step(time / STEP_SECONDS), code[2..], "T = {time}");
        }
    }

    #[test]
    fn a_code_matches_its_step_and_one_either_side_only() {
        let secret = TotpSecret::generate();
        let now = 1_800_000_015;
        let step = now / STEP_SECONDS;
        for (offset, accepted) in [(-2i64, false), (-1, true), (0, true), (1, true), (2, false)] {
            let at = step.checked_add_signed(offset).expect("step");
            let code = secret.code_at_step(at);
            let found = secret.matching_step(&code, now);
            assert_eq!(found.is_some(), accepted, "offset {offset}");
            if accepted {
                assert_eq!(secret.code_at_step(found.expect("step")), code);
            }
        }
        for junk in ["", "12345", "1234567", "abcdef", "12 345"] {
            assert_eq!(secret.matching_step(junk, now), None, "{junk:?}");
        }
    }

    #[test]
    fn keys_and_addresses_are_what_authenticator_apps_read() {
        let secret = TotpSecret::from_bytes(vec![0u8; 20]).expect("secret");
        assert_eq!(secret.base32(), "A".repeat(32));
        assert_eq!(secret.grouped(), ["AAAA"; 8].join(" "));
        assert_eq!(
            TotpSecret::from_base32(&secret.grouped().to_lowercase()),
            Some(secret.clone())
        );
        let uri = secret.uri("Gatehouse", "ada");
        assert_eq!(
            uri,
            format!(
                "otpauth://totp/Gatehouse:ada?secret={}&issuer=Gatehouse&algorithm=SHA1&digits=6&period=30",
                "A".repeat(32)
            )
        );
        assert!(!format!("{secret:?}").contains("AAAA"));
        let svg = qr_svg(&uri).expect("fits");
        assert!(svg.starts_with("<svg") && svg.contains("<path d=\"M") && !svg.contains("<script"));
    }

    #[test]
    fn recovery_codes_are_typed_loosely_and_stored_strictly() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 10);
        assert!(code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)));
        let shown = show_recovery_code(&code);
        assert_eq!(shown.len(), 11);
        assert_eq!(normalise_recovery_code(&shown.to_uppercase()), Some(code.clone()));
        assert_eq!(
            normalise_recovery_code(&format!(" {} ", shown.replace('-', " "))),
            Some(code)
        );
        for bad in ["", "abcde-fghi", "abcde-fghij1", "abcde-fgh1j", "abcdefghij!"] {
            assert_eq!(normalise_recovery_code(bad), None, "{bad:?}");
        }
        assert_ne!(new_recovery_code(), new_recovery_code());
    }
}
