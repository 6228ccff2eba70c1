//! Text a user typed that other people (or the user, later, in a message) will read.

/// `text` without the characters that are invisible or reorder what follows them:
/// control characters, Unicode format characters (category Cf: zero-width spaces and
/// joiners, soft hyphens, the bidirectional overrides and isolates …), line and
/// paragraph separators. A passkey named `"Phone\u{202E}gnp.exe"` would otherwise read
/// as something it is not in a notice or a list.
pub fn strip_invisible(text: &str) -> String {
    text.chars().filter(|&c| !is_invisible(c)).collect()
}

/// True for a control character, a format character (Unicode category Cf) or a line or
/// paragraph separator.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{00AD}'
                | '\u{0600}'..='\u{0605}'
                | '\u{061C}'
                | '\u{06DD}'
                | '\u{070F}'
                | '\u{0890}'..='\u{0891}'
                | '\u{08E2}'
                | '\u{180E}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{206F}'
                | '\u{FEFF}'
                | '\u{FFF9}'..='\u{FFFB}'
                | '\u{110BD}'
                | '\u{110CD}'
                | '\u{13430}'..='\u{1343F}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0001}'
                | '\u{E0020}'..='\u{E007F}'
        )
}

#[cfg(test)]
mod tests {
    use super::strip_invisible;

    #[test]
    fn bidi_format_and_control_characters_are_removed() {
        assert_eq!(strip_invisible("Phone\u{202E}gnp.exe"), "Phonegnp.exe");
        assert_eq!(strip_invisible("Lap\u{200B}top\u{2066}\u{2069}"), "Laptop");
        assert_eq!(strip_invisible("Key\u{0007}\u{001B}[31m"), "Key[31m");
        assert_eq!(strip_invisible("soft\u{00AD}hyphen\u{FEFF}"), "softhyphen");
        assert_eq!(strip_invisible("line\u{2028}break"), "linebreak");
    }

    #[test]
    fn ordinary_text_is_kept_whatever_its_script() {
        for text in ["YubiKey 5C", "Téléphone de Zoé", "鍵 🔑", "مفتاح", "ключ"] {
            assert_eq!(strip_invisible(text), text);
        }
    }
}
