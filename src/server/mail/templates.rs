//! Every message Gatehouse sends, in one place: a plain-text part and an HTML part built
//! from the same paragraphs. No images, no tracking, no remote content: the HTML part is
//! the text with its links made clickable.

use crate::model::format_datetime;
use serde::{Deserialize, Serialize};

/// A message ready to send. `link`, when there is one, is the action it carries (a
/// verification or reset link); the outbox logs it for development.
#[derive(Clone, Serialize, Deserialize)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: Option<String>,
}

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may carry a one-time link: only the subject is printed.
        f.debug_struct("Message")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a message is about; the queue records it as `kind`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Template<'a> {
    /// Confirms the address of an account (sign-up, a resend, a first address).
    Verify {
        username: &'a str,
        email: &'a str,
        link: &'a str,
    },
    /// Confirms a new address that will replace a verified one.
    ConfirmChange {
        username: &'a str,
        email: &'a str,
        link: &'a str,
    },
    /// A link to choose a new password.
    Reset {
        username: &'a str,
        link: &'a str,
    },
    /// Notices to the account's verified address.
    PasswordChanged {
        username: &'a str,
        at: i64,
    },
    EmailChanged {
        username: &'a str,
        new_email: &'a str,
        at: i64,
    },
    TwoFactorOff {
        username: &'a str,
        at: i64,
    },
    PasskeyAdded {
        username: &'a str,
        name: &'a str,
        at: i64,
    },
    TwoFactorOn {
        username: &'a str,
        at: i64,
    },
    RecoveryCodesRegenerated {
        username: &'a str,
        at: i64,
    },
    ProviderLinked {
        username: &'a str,
        /// The provider's name, as the settings page shows it.
        provider: &'a str,
        at: i64,
    },
    /// A sign-in from a browser that had not signed in to the account before.
    NewDevice {
        username: &'a str,
        /// The browser, as the sessions page describes it.
        device: &'a str,
        ip: &'a str,
        at: i64,
    },
    /// To the owner of an address that someone asked to put on another account (the
    /// change form answers the same either way, so only this owner learns of it).
    AddressInUse {
        username: &'a str,
        email: &'a str,
        at: i64,
    },
}

/// One paragraph: text, or a link on a line of its own.
enum Part {
    Text(String),
    Link(String),
}

impl Template<'_> {
    /// The name the queue keeps (no personal data).
    pub fn kind(&self) -> &'static str {
        match self {
            Template::Verify { .. } => "verify",
            Template::ConfirmChange { .. } => "confirm_change",
            Template::Reset { .. } => "reset",
            Template::PasswordChanged { .. } => "notice_password_changed",
            Template::EmailChanged { .. } => "notice_email_changed",
            Template::TwoFactorOff { .. } => "notice_two_factor_off",
            Template::PasskeyAdded { .. } => "notice_passkey_added",
            Template::TwoFactorOn { .. } => "notice_two_factor_on",
            Template::RecoveryCodesRegenerated { .. } => "notice_recovery_codes",
            Template::ProviderLinked { .. } => "notice_provider_linked",
            Template::NewDevice { .. } => "notice_new_device",
            Template::AddressInUse { .. } => "notice_address_in_use",
        }
    }

    /// The message of the app `app_name` at `origin` (`https://example.com`).
    pub fn render(&self, app_name: &str, origin: &str) -> Message {
        let site = origin
            .split_once("://")
            .map_or(origin, |(_, host)| host)
            .to_owned();
        let not_you = |what: &str| {
            Part::Text(format!(
                "If this wasn't you, {what} reset your password at {origin}/forgot-password and check \
                 the sessions signed in to your account at {origin}/settings/sessions."
            ))
        };
        let (subject, link, parts) = match *self {
            Template::Verify {
                username,
                email,
                link,
            } => (
                "Verify your e-mail address".to_owned(),
                Some(link),
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "please confirm that {email} is your address on {site} by opening this link \
                         within 24 hours:"
                    )),
                    Part::Link(link.to_owned()),
                    Part::Text(format!(
                        "If you did not create an account on {site}, ignore this message: nothing \
                         happens without the link."
                    )),
                ],
            ),
            Template::ConfirmChange {
                username,
                email,
                link,
            } => (
                "Confirm your new e-mail address".to_owned(),
                Some(link),
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "you asked to use {email} for your account on {site}. Open this link within \
                         24 hours to confirm it; until then your current address stays in place:"
                    )),
                    Part::Link(link.to_owned()),
                    Part::Text("If you did not ask for this, ignore this message.".to_owned()),
                ],
            ),
            Template::Reset { username, link } => (
                "Reset your password".to_owned(),
                Some(link),
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "someone, hopefully you, asked to reset the password of your account on \
                         {site}. Open this link within an hour to choose a new password (it works once):"
                    )),
                    Part::Link(link.to_owned()),
                    Part::Text(
                        "If you did not ask for this, ignore this message: your password stays as it is."
                            .to_owned(),
                    ),
                ],
            ),
            Template::PasswordChanged { username, at } => (
                "Your password was changed".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "the password of your account on {site} was changed on {}. Every session \
                         signed in with the old one has ended.",
                        format_datetime(at)
                    )),
                    not_you("someone else knows your password or can read your e-mail:"),
                ],
            ),
            Template::EmailChanged {
                username,
                new_email,
                at,
            } => (
                "Your e-mail address was changed".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "the e-mail address of your account on {site} was changed from this address \
                         to {new_email} on {}. Messages about the account go there from now on.",
                        format_datetime(at)
                    )),
                    Part::Text(format!(
                        "If this wasn't you, someone is signed in to your account: sign in at \
                         {origin}/login, change your password and your address back, and check your sessions."
                    )),
                ],
            ),
            Template::TwoFactorOff { username, at } => (
                "Two-factor sign-in was turned off".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "two-factor sign-in was turned off for your account on {site} on {}. Your \
                         password alone now signs in.",
                        format_datetime(at)
                    )),
                    not_you("someone is signed in to your account:"),
                ],
            ),
            Template::PasskeyAdded { username, name, at } => (
                "A passkey was added to your account".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "a passkey named \"{name}\" was added to your account on {site} on {}. It \
                         signs in without a password.",
                        format_datetime(at)
                    )),
                    not_you(&format!("remove it at {origin}/settings/security, then")),
                ],
            ),
            Template::TwoFactorOn { username, at } => (
                "Two-factor sign-in was turned on".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "two-factor sign-in was turned on for your account on {site} on {}. Signing \
                         in now takes a code from your authenticator app as well as your password.",
                        format_datetime(at)
                    )),
                    not_you("someone is signed in to your account:"),
                ],
            ),
            Template::RecoveryCodesRegenerated { username, at } => (
                "New recovery codes were made".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "new recovery codes were made for your account on {site} on {}. The earlier \
                         codes no longer work.",
                        format_datetime(at)
                    )),
                    not_you("someone is signed in to your account:"),
                ],
            ),
            Template::ProviderLinked {
                username,
                provider,
                at,
            } => (
                format!("{provider} was connected to your account"),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "a {provider} account was connected to your account on {site} on {}. It \
                         signs in to your account from now on.",
                        format_datetime(at)
                    )),
                    not_you(&format!("disconnect it at {origin}/settings/account, then")),
                ],
            ),
            Template::NewDevice {
                username,
                device,
                ip,
                at,
            } => (
                "A new sign-in to your account".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "your account on {site} was signed in to on {} from a browser that had not \
                         signed in to it before: {device}, at the address {ip}.",
                        format_datetime(at)
                    )),
                    not_you("someone knows your password:"),
                ],
            ),
            Template::AddressInUse { username, email, at } => (
                "Someone tried to use your e-mail address".to_owned(),
                None,
                vec![
                    Part::Text(format!("Hello {username},")),
                    Part::Text(format!(
                        "on {} someone asked to put {email}, the address of your account on {site}, \
                         on another account. Nothing changed: the address stays with your account.",
                        format_datetime(at)
                    )),
                    Part::Text(
                        "If it was you, use the account this address belongs to. Otherwise there is \
                         nothing to do."
                            .to_owned(),
                    ),
                ],
            ),
        };
        let signature = format!("{app_name} at {origin}");
        let mut text = String::new();
        let mut html = String::from(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head>\
             <body style=\"font-family:sans-serif;line-height:1.5;max-width:40em\">",
        );
        for part in parts.iter().chain(std::iter::once(&Part::Text(signature))) {
            match part {
                Part::Text(t) => {
                    text.push_str(t);
                    html.push_str("<p>");
                    html.push_str(&html_escape::encode_text(t));
                    html.push_str("</p>");
                }
                Part::Link(url) => {
                    text.push_str(url);
                    let url = html_escape::encode_double_quoted_attribute(url);
                    html.push_str(&format!("<p><a href=\"{url}\">{url}</a></p>"));
                }
            }
            text.push_str("\n\n");
        }
        html.push_str("</body></html>");
        Message {
            subject,
            text: text.trim_end().to_owned() + "\n",
            html,
            link: link.map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_in_both_parts_and_text_is_escaped_in_html() {
        let link = "https://example.com/reset-password?token=abc&x=1";
        let message = Template::Reset {
            username: "<b>ada</b>",
            link,
        }
        .render("Gatehouse", "https://example.com");
        assert_eq!(message.subject, "Reset your password");
        assert!(message.text.contains(link));
        assert!(message.text.contains("Hello <b>ada</b>,"));
        assert!(message.html.contains("&lt;b&gt;ada&lt;/b&gt;"));
        assert!(message
            .html
            .contains("href=\"https://example.com/reset-password?token=abc&amp;x=1\""));
        assert_eq!(message.link.as_deref(), Some(link));
        assert!(!format!("{message:?}").contains("token"));
    }

    #[test]
    fn notices_carry_no_link_and_no_remote_content() {
        for template in [
            Template::PasswordChanged {
                username: "ada",
                at: 0,
            },
            Template::EmailChanged {
                username: "ada",
                new_email: "new@example.com",
                at: 0,
            },
            Template::TwoFactorOff {
                username: "ada",
                at: 0,
            },
            Template::PasskeyAdded {
                username: "ada",
                name: "Phone",
                at: 0,
            },
            Template::TwoFactorOn {
                username: "ada",
                at: 0,
            },
            Template::RecoveryCodesRegenerated {
                username: "ada",
                at: 0,
            },
            Template::ProviderLinked {
                username: "ada",
                provider: "GitHub",
                at: 0,
            },
            Template::NewDevice {
                username: "ada",
                device: "Firefox on Linux",
                ip: "192.0.2.1",
                at: 0,
            },
            Template::AddressInUse {
                username: "ada",
                email: "ada@example.com",
                at: 0,
            },
        ] {
            let message = template.render("Gatehouse", "https://example.com");
            assert!(message.link.is_none());
            assert!(!message.html.contains("<img"));
            assert!(message.text.contains("example.com"));
        }
    }
}
