//! Wire types shared by the browser and the server.

mod admin;
mod audit;
mod error;
mod provider;
mod role;
mod settings;
mod wire;

pub use admin::{
    AuditEntry, AuditPage, Disabled, RoleChange, RoleRefusal, UserSummary, UsersPage, EVENTS_PAGE_SIZE,
    USERS_PAGE_SIZE,
};
pub use audit::AuditKind;
pub use error::{
    AppError, ErrorKind, MSG_BAD_CREDENTIALS, MSG_BREACHED, MSG_CROSS_SITE, MSG_DISABLED, MSG_EMAIL_TAKEN,
    MSG_FORBIDDEN, MSG_FORGOT, MSG_LINK_INVALID, MSG_REAUTH, MSG_SIGN_IN_ENDED, MSG_USERNAME_TAKEN,
    MSG_VIEWING_AS,
};
pub use provider::Provider;
pub use role::{role_at_least, Role, UnknownRole};
pub use settings::{
    AccountOverview, EmailState, PasskeyInfo, ResetLinkState, SecurityOverview, SessionInfo, SignupEmail,
    TwoFactorSetup, TwoFactorState,
};
pub use wire::{load, JsonBytes, Loaded};

use serde::{Deserialize, Serialize};

/// What the browser knows about the signed-in user: never a secret, never a hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub role: Role,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// The account has an e-mail address that is not verified yet (a banner asks to).
    pub email_unverified: bool,
    /// Set while an administrator views the app as this user: the administrator's
    /// username (every page shows a banner naming both, with "Stop").
    pub viewed_by: Option<String>,
}

/// The app's name unless `GATEHOUSE_APP_NAME` gives another.
pub const DEFAULT_APP_NAME: &str = "Gatehouse";

/// "1 session ended", "3 sessions ended": the count in admin and command-line answers.
pub fn sessions_ended(count: u64) -> String {
    let noun = if count == 1 { "session" } else { "sessions" };
    format!("{count} {noun} ended")
}

/// Formats unix seconds as a calendar date (UTC), e.g. `2026-11-23`.
pub fn format_date(unix_seconds: i64) -> String {
    let (y, m, d) = civil_from_days(unix_seconds.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Formats unix seconds as date and minute (UTC), e.g. `2026-11-23 14:05 UTC`.
pub fn format_datetime(unix_seconds: i64) -> String {
    let (hour, minute, _) = time_of_day(unix_seconds);
    format!("{} {hour:02}:{minute:02} UTC", format_date(unix_seconds))
}

/// The hour, minute and second (UTC) of unix seconds.
pub fn time_of_day(unix_seconds: i64) -> (i64, i64, i64) {
    let secs = unix_seconds.rem_euclid(86_400);
    (secs / 3600, (secs % 3600) / 60, secs % 60)
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's algorithm, valid for every i64 day count we can meet.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// What the sign-in and sign-up pages need to know about the server's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthSettings {
    pub password_min_length: usize,
    pub github: bool,
    pub google: bool,
    /// Passkeys are offered (the public URL names a domain).
    pub passkeys: bool,
    /// Whether sign-up asks for an e-mail address.
    pub signup_email: SignupEmail,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_session_is_singular() {
        assert_eq!(sessions_ended(0), "0 sessions ended");
        assert_eq!(sessions_ended(1), "1 session ended");
        assert_eq!(sessions_ended(2), "2 sessions ended");
    }

    #[test]
    fn dates_format_as_iso_calendar_days() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(951_782_400), "2000-02-29");
        assert_eq!(format_date(1_795_392_000), "2026-11-23");
        assert_eq!(
            format_datetime(1_795_392_000 + 14 * 3600 + 5 * 60 + 59),
            "2026-11-23 14:05 UTC"
        );
        assert_eq!(format_date(-86_400), "1969-12-31");
    }
}
