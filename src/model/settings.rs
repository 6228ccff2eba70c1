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
}
