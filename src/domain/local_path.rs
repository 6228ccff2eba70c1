use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::fmt;

/// A redirect target that stays on this site: the `next` parameter after sign-in.
///
/// Accepted only when, after percent-decoding, it starts with exactly one `/`, and has
/// no `\`, no whitespace or control characters, and nothing outside printable ASCII.
/// Anything else (`//evil`, `/\evil`, `https://evil`, their encodings) is refused, and
/// callers fall back to `/profile`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalPath(String);

impl LocalPath {
    pub fn parse(raw: &str) -> Option<LocalPath> {
        let decoded = percent_decode_strict(raw.as_bytes())?;
        let bytes = decoded.as_bytes();
        let starts_with_one_slash =
            bytes.first() == Some(&b'/') && !matches!(bytes.get(1), Some(b'/' | b'\\'));
        let clean = bytes.iter().all(|&b| (0x21..=0x7e).contains(&b) && b != b'\\');
        (starts_with_one_slash && clean && decoded.len() <= 2048).then_some(LocalPath(decoded))
    }

    /// The target, or `/profile` when `raw` is missing or not local.
    pub fn or_profile(raw: Option<&str>) -> String {
        raw.and_then(LocalPath::parse)
            .map(|p| p.0)
            .unwrap_or_else(|| "/profile".to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LocalPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Decodes `%XX` escapes once. A `%` that does not start an escape (which a lenient
/// decoder passes through as it is) or a result that is not UTF-8 gives `None`.
pub fn percent_decode_strict(raw: &[u8]) -> Option<String> {
    let well_formed = raw.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || raw
                .get(i + 1..i + 3)
                .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Everything but the unreserved characters and `/` is escaped in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes a path for use as a query value (`/login?next=…`).
pub fn encode_query_value(value: &str) -> String {
    utf8_percent_encode(value, QUERY_VALUE).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for (raw, expected) in [
            ("/profile", "/profile"),
            ("/members", "/members"),
            ("/settings/sessions?tab=1", "/settings/sessions?tab=1"),
            ("%2Fmembers", "/members"),
            ("/a%3Fb", "/a?b"),
            ("/", "/"),
        ] {
            assert_eq!(
                LocalPath::parse(raw).map(|p| p.0).as_deref(),
                Some(expected),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn open_redirect_attempts_fall_back_to_the_profile() {
        for raw in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "%2F%2Fevil.example",
            "%2f%2fevil.example",
            "/%2Fevil.example",
            "%2F%5Cevil.example",
            "/%5Cevil.example",
            "/\tevil",
            "/%09/evil.example",
            "/%0d%0aSet-Cookie:x=1",
            "/\r\nLocation: https://evil",
            "/ evil",
            "/%20evil",
            "/%E2%80%AEevil",
            "/caf\u{e9}",
            "%",
            "/%zz",
            "/%C3%28",
            "",
        ] {
            assert_eq!(LocalPath::or_profile(Some(raw)), "/profile", "{raw:?}");
        }
        assert_eq!(LocalPath::or_profile(None), "/profile");
    }

    #[test]
    fn double_encoding_is_decoded_once_and_then_refused() {
        assert_eq!(LocalPath::or_profile(Some("%252F%252Fevil.example")), "/profile");
    }

    #[test]
    fn query_values_are_encoded_so_they_survive_the_round_trip() {
        let encoded = encode_query_value("/settings/sessions?a=1&b=2");
        assert_eq!(encoded, "/settings/sessions%3Fa%3D1%26b%3D2");
        assert_eq!(
            LocalPath::or_profile(Some(&encoded)),
            "/settings/sessions?a=1&b=2"
        );
    }
}
