//! Which proof satisfies which factor: the one place that decides whether a sign-in
//! needs a second factor, what `/reauth` asks for, when the current password alone may
//! change the password or delete the account, whether an account counts as signing in
//! with two factors, and how long a proof stays recent (SPEC §14, "What counts as a
//! recent authentication").

/// What a person presents to sign in or to confirm it is them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A new account's password: the account has no other factor yet.
    SignUp,
    /// The account's password.
    Password,
    /// A provider account linked to the account (GitHub, Google).
    Provider,
    /// A passkey asserted with user verification: something held and something known
    /// (or something one is) in one gesture.
    Passkey,
    /// A password-reset link sent to the account's verified address.
    ResetLink,
}

/// What an account has besides the proof presented.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Factors {
    /// An authenticator app (TOTP) is on.
    pub totp: bool,
    /// At least one passkey is registered.
    pub passkey: bool,
    /// A password is set.
    pub password: bool,
}

/// Where a proof leaves a sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Every factor the account has is proven: a session may be issued.
    Complete,
    /// A code from the authenticator app (or a recovery code) is still to come.
    Code,
}

/// What presenting `proof` leads to for an account with `factors`. A password, a
/// provider account and a reset link each prove one factor; a passkey proves two; a
/// sign-up has nothing more to prove.
pub fn after(proof: Proof, factors: Factors) -> Next {
    match proof {
        Proof::SignUp | Proof::Passkey => Next::Complete,
        Proof::Password | Proof::Provider | Proof::ResetLink if factors.totp => Next::Code,
        Proof::Password | Proof::Provider | Proof::ResetLink => Next::Complete,
    }
}

/// Whether typing the current password is enough to change the password or delete the
/// account. It proves the password only: an account with a second factor, or without a
/// password to type, needs a recent authentication that passed every factor (`/reauth`).
pub fn current_password_suffices(factors: Factors) -> bool {
    factors.password && !factors.totp
}

/// Whether the account signs in with two factors (a `GATEHOUSE_REQUIRE_2FA` policy is
/// met): TOTP on, or a passkey.
pub fn signs_in_strongly(factors: Factors) -> bool {
    factors.totp || factors.passkey
}

/// Whether the holder's last proof of every factor (the sign-in, or a confirmation on
/// `/reauth`), made at `confirmed_at`, is still recent at `now` for a window of
/// `window_seconds`: up to and including its last second.
pub fn is_recent(confirmed_at: i64, window_seconds: i64, now: i64) -> bool {
    now.saturating_sub(confirmed_at) <= window_seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_is_recent_through_the_last_second_of_its_window() {
        let signed_in = 1_800_000_000;
        let window = 600;
        assert!(is_recent(signed_in, window, signed_in));
        assert!(is_recent(signed_in, window, signed_in + 599));
        assert!(is_recent(signed_in, window, signed_in + 600));
        assert!(!is_recent(signed_in, window, signed_in + 601));
        assert!(!is_recent(signed_in, window, signed_in + 86_400));
        // A clock that stepped back counts as recent, never as an overflow.
        assert!(is_recent(signed_in, window, signed_in - 5));
        assert!(!is_recent(i64::MIN, window, i64::MAX));
        assert!(is_recent(0, i64::MAX, i64::MAX));
    }

    fn accounts() -> impl Iterator<Item = Factors> {
        (0..8).map(|bits| Factors {
            totp: bits & 1 != 0,
            passkey: bits & 2 != 0,
            password: bits & 4 != 0,
        })
    }

    #[test]
    fn a_single_factor_proof_needs_the_code_exactly_when_totp_is_on() {
        for factors in accounts() {
            for proof in [Proof::Password, Proof::Provider, Proof::ResetLink] {
                let expected = if factors.totp { Next::Code } else { Next::Complete };
                assert_eq!(after(proof, factors), expected, "{proof:?} {factors:?}");
            }
        }
    }

    #[test]
    fn a_passkey_or_a_sign_up_completes_on_its_own() {
        for factors in accounts() {
            assert_eq!(after(Proof::Passkey, factors), Next::Complete, "{factors:?}");
            assert_eq!(after(Proof::SignUp, factors), Next::Complete, "{factors:?}");
        }
    }

    #[test]
    fn the_current_password_is_enough_only_for_a_password_only_account() {
        let only_password = Factors {
            password: true,
            ..Factors::default()
        };
        assert!(current_password_suffices(only_password));
        // A passkey does not make the typed password prove more or less.
        assert!(current_password_suffices(Factors {
            passkey: true,
            ..only_password
        }));
        for factors in accounts().filter(|f| f.totp || !f.password) {
            assert!(!current_password_suffices(factors), "{factors:?}");
        }
    }

    #[test]
    fn two_factor_sign_in_is_totp_or_a_passkey() {
        for factors in accounts() {
            assert_eq!(
                signs_in_strongly(factors),
                factors.totp || factors.passkey,
                "{factors:?}"
            );
        }
        assert!(!signs_in_strongly(Factors {
            password: true,
            ..Factors::default()
        }));
    }
}
