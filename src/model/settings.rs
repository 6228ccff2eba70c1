//! What the settings pages show.

use serde::{Deserialize, Serialize};

/// One of the user's active sessions. `handle` names the row in forms; it is neither
/// the token nor its hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub handle: String,
    pub current: bool,
    /// "Chrome on Linux".
    pub device: String,
    pub ip: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    /// An administrator's "view as" session, not the user's own.
    pub viewed_by_admin: bool,
}

/// The account facts the account settings page needs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOverview {
    pub username: String,
    pub has_password: bool,
    /// The GitHub / Google account linked, when one is (the provider's login or e-mail).
    pub github: Option<String>,
    pub google: Option<String>,
    pub github_enabled: bool,
    pub google_enabled: bool,
    /// Signed in (or confirmed on `/reauth`) recently enough to change how the account
    /// signs in, without confirming again.
    pub recently_authenticated: bool,
    /// Two-factor sign-in is on: confirming it's you takes a code too.
    pub two_factor: bool,
    /// The account has passkeys and the site offers them: one can confirm it's you.
    pub passkeys: bool,
    pub email: EmailState,
}

/// The account's e-mail address and where it stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailState {
    pub address: Option<String>,
    pub verified: bool,
    /// A new address waiting for its link to be opened; it replaces `address` then.
    pub pending: Option<String>,
}

/// What `/settings/security` shows.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecurityOverview {
    pub username: String,
    pub two_factor: TwoFactorState,
    /// Two-factor sign-in is required for this account's role (`GATEHOUSE_REQUIRE_2FA`).
    pub required: bool,
    pub recovery_codes_left: i64,
    /// Passkeys can be used on this site (its public URL names a domain).
    pub passkeys_enabled: bool,
    pub passkeys: Vec<PasskeyInfo>,
}

/// One of the signed-in user's passkeys, as `/settings/security` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    pub id: i64,
    pub name: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The authenticator says the passkey is backed up (synced to other devices).
    pub backed_up: bool,
}

/// Where an account's second factor stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorState {
    Off,
    /// A key was made and waits for a first code.
    SettingUp(TwoFactorSetup),
    /// On since (unix seconds).
    On {
        since: i64,
    },
}

/// What the user needs to add the key to an authenticator app.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TwoFactorSetup {
    /// The key as base32 in groups of four.
    pub key: String,
    /// The `otpauth://` address (a link, for phones).
    pub uri: String,
    /// The address as a QR code: an inline SVG element.
    pub qr_svg: String,
}

/// Whether `/signup` asks for an e-mail address (`GATEHOUSE_SIGNUP_EMAIL`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SignupEmail {
    Off,
    #[default]
    Optional,
    Required,
}

/// What `/reset-password` shows before the form is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetLinkState {
    /// The link is good (unused, unexpired).
    pub valid: bool,
    /// The account has two-factor sign-in on: the form asks for a code too.
    pub needs_code: bool,
}
