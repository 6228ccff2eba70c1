use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Kinds of audit events (docs/accounts.md and docs/email.md list what each records).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    Signup,
    LoginSuccess,
    LoginFailure,
    Logout,
    SessionRevoked,
    PasswordChanged,
    RoleChanged,
    OauthLinked,
    OauthUnlinked,
    Throttled,
    AccountDeleted,
    Unlocked,
    Reauthenticated,
    MfaEnabled,
    MfaDisabled,
    MfaFailed,
    RecoveryCodeUsed,
    RecoveryCodesRegenerated,
    MfaReset,
    PasskeyAdded,
    PasskeyRemoved,
    PasskeyCounterError,
    EmailVerificationSent,
    EmailVerified,
    PasswordResetRequested,
    PasswordReset,
    EmailChanged,
    AccountDisabled,
    AccountEnabled,
    ImpersonationStarted,
    ImpersonationStopped,
}

impl AuditKind {
    pub const ALL: [AuditKind; 31] = [
        AuditKind::Signup,
        AuditKind::LoginSuccess,
        AuditKind::LoginFailure,
        AuditKind::Logout,
        AuditKind::SessionRevoked,
        AuditKind::PasswordChanged,
        AuditKind::RoleChanged,
        AuditKind::OauthLinked,
        AuditKind::OauthUnlinked,
        AuditKind::Throttled,
        AuditKind::AccountDeleted,
        AuditKind::Unlocked,
        AuditKind::Reauthenticated,
        AuditKind::MfaEnabled,
        AuditKind::MfaDisabled,
        AuditKind::MfaFailed,
        AuditKind::RecoveryCodeUsed,
        AuditKind::RecoveryCodesRegenerated,
        AuditKind::MfaReset,
        AuditKind::PasskeyAdded,
        AuditKind::PasskeyRemoved,
        AuditKind::PasskeyCounterError,
        AuditKind::EmailVerificationSent,
        AuditKind::EmailVerified,
        AuditKind::PasswordResetRequested,
        AuditKind::PasswordReset,
        AuditKind::EmailChanged,
        AuditKind::AccountDisabled,
        AuditKind::AccountEnabled,
        AuditKind::ImpersonationStarted,
        AuditKind::ImpersonationStopped,
    ];

    /// The name stored in `audit_events.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Signup => "signup",
            AuditKind::LoginSuccess => "login_success",
            AuditKind::LoginFailure => "login_failure",
            AuditKind::Logout => "logout",
            AuditKind::SessionRevoked => "session_revoked",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::RoleChanged => "role_changed",
            AuditKind::OauthLinked => "oauth_linked",
            AuditKind::OauthUnlinked => "oauth_unlinked",
            AuditKind::Throttled => "throttled",
            AuditKind::AccountDeleted => "account_deleted",
            AuditKind::Unlocked => "unlocked",
            AuditKind::Reauthenticated => "reauthenticated",
            AuditKind::MfaEnabled => "mfa_enabled",
            AuditKind::MfaDisabled => "mfa_disabled",
            AuditKind::MfaFailed => "mfa_failed",
            AuditKind::RecoveryCodeUsed => "recovery_code_used",
            AuditKind::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            AuditKind::MfaReset => "mfa_reset",
            AuditKind::PasskeyAdded => "passkey_added",
            AuditKind::PasskeyRemoved => "passkey_removed",
            AuditKind::PasskeyCounterError => "passkey_counter_error",
            AuditKind::EmailVerificationSent => "email_verification_sent",
            AuditKind::EmailVerified => "email_verified",
            AuditKind::PasswordResetRequested => "password_reset_requested",
            AuditKind::PasswordReset => "password_reset",
            AuditKind::EmailChanged => "email_changed",
            AuditKind::AccountDisabled => "account_disabled",
            AuditKind::AccountEnabled => "account_enabled",
            AuditKind::ImpersonationStarted => "impersonation_started",
            AuditKind::ImpersonationStopped => "impersonation_stopped",
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuditKind {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AuditKind::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}
