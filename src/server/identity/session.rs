//! Who a validated session says is there, as the session layer leaves it for everything
//! below it: the user, when they signed in and last proved it, their factors, and the
//! administrator behind a "view as" session.

use super::factors::{self, Factors, Next, Proof};
use crate::model::SessionUser;
use std::sync::Arc;

/// The signed-in user of a request, as validated from its cookie.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// Stored id of the session (the hash, not the token).
    pub session_id: String,
    /// The session's public row handle.
    pub session_handle: String,
    /// When this session was created by a sign-in (unix seconds).
    pub signed_in_at: i64,
    /// When its holder last passed every factor the account has: the sign-in, a later
    /// confirmation on `/reauth`, or — for a session that replaced another (a password
    /// change, "sign out everywhere") — the replaced session's (unix seconds).
    pub confirmed_at: i64,
    /// The user has two-factor sign-in on.
    pub two_factor: bool,
    /// The user has a passkey: with two-factor sign-in, what `GATEHOUSE_REQUIRE_2FA`
    /// accepts (a passkey is both factors at once).
    pub has_passkey: bool,
    pub user: SessionUser,
    /// Set on an administrator's "view as" session: who is really there.
    pub impersonator: Option<Impersonator>,
}

/// The administrator behind a "view as" session.
#[derive(Clone, Debug)]
pub struct Impersonator {
    pub user_id: i64,
    pub username: String,
    /// The administrator's own session, which the view stands beside.
    pub session_id: String,
}

impl Authenticated {
    /// The factors the session's validation read: TOTP and passkeys. (Whether the
    /// account has a password is not read there, and none of these rules needs it.)
    fn known_factors(&self) -> Factors {
        Factors {
            totp: self.two_factor,
            passkey: self.has_passkey,
            password: false,
        }
    }

    /// True when the user signs in with two factors ([`factors::signs_in_strongly`]).
    pub fn has_strong_sign_in(&self) -> bool {
        factors::signs_in_strongly(self.known_factors())
    }

    /// True when confirming it is them with `proof` (on `/reauth`) needs a code as
    /// well: the rule of a sign-in ([`factors::after`]).
    pub fn needs_code_after(&self, proof: Proof) -> bool {
        factors::after(proof, self.known_factors()) == Next::Code
    }
}

/// The validated session of a request, as the session layer leaves it in the request's
/// extensions for the layers below it (access rules, page cache). Services read it
/// from the request context.
#[derive(Clone, Debug, Default)]
pub struct CurrentSession(pub Option<Arc<Authenticated>>);
