//! Password hashing with argon2id, kept off the async executor. The whole interface:
//! [`PasswordHasher::hash`] a new password, [`PasswordHasher::verify`] a typed one
//! against what is stored (or against a dummy hash when nothing is, so both failures
//! cost the same). PHC strings and parameters are in `phc`, the hashing threads in `pool`.

pub mod breached;
pub mod choice;
mod phc;
mod pool;

pub use phc::{Verified, M_COST_KIB, P_COST, T_COST};
pub use pool::IDLE_RELEASE;

use crate::domain::{Password, SecretString};
use anyhow::anyhow;
use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

/// Why a hash or a verification did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every permit stayed taken for the whole wait: the server is saturated.
    #[error("password hashing is saturated")]
    Busy,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Hashes and verifies passwords with a bounded amount of parallel work.
#[derive(Clone)]
pub struct PasswordHasher {
    pool: pool::Pool,
    /// A real hash of a random password: verified when the username is unknown so that
    /// both failures cost the same time.
    dummy_hash: Arc<str>,
    /// Verifications pass here, and wait while [`PasswordHasher::hold_verifications`]
    /// holds it.
    gate: Arc<tokio::sync::RwLock<()>>,
    /// Verifications waiting at the gate.
    waiting: Arc<AtomicUsize>,
}

/// Verifications are held until this is dropped.
pub struct VerificationHold {
    _guard: tokio::sync::OwnedRwLockWriteGuard<()>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.pool.permits.available_permits())
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher with `parallelism` hashing threads (the CPU count in production) that
    /// waits at most `max_wait` for one to be free. Computes the dummy hash, so call it
    /// once.
    pub async fn new(parallelism: usize, max_wait: Duration) -> anyhow::Result<PasswordHasher> {
        Self::with_idle_release(parallelism, max_wait, IDLE_RELEASE).await
    }

    /// [`PasswordHasher::new`] whose threads return their memory after `idle_release`
    /// without work.
    pub async fn with_idle_release(
        parallelism: usize,
        max_wait: Duration,
        idle_release: Duration,
    ) -> anyhow::Result<PasswordHasher> {
        let pool = pool::Pool::start(parallelism.max(1), max_wait, idle_release)?;
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        let dummy_password = hex::encode(random);
        let dummy = pool
            .run(move |hasher| phc::hash_with(dummy_password.as_bytes(), hasher))
            .await
            .map_err(|e| anyhow!("cannot compute the dummy hash: {e}"))?;
        Ok(PasswordHasher {
            pool,
            dummy_hash: dummy.into(),
            gate: Arc::default(),
            waiting: Arc::default(),
        })
    }

    /// Holds every password verification that starts from now until the answer is
    /// dropped (hashing new passwords goes on). For tests of what happens while a
    /// sign-in's password check is still running; otherwise a verification costs one
    /// uncontended read of a lock.
    pub async fn hold_verifications(&self) -> VerificationHold {
        VerificationHold {
            _guard: Arc::clone(&self.gate).write_owned().await,
        }
    }

    /// Verifications waiting at a hold right now.
    pub fn waiting_verifications(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// Waits while verifications are held.
    async fn pass_gate(&self) {
        self.waiting.fetch_add(1, Ordering::SeqCst);
        drop(self.gate.read().await);
        self.waiting.fetch_sub(1, Ordering::SeqCst);
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.pool
            .run(move |hasher| phc::hash_with(password.as_bytes(), hasher))
            .await
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user, OAuth-only
    /// account) the dummy hash is checked instead and the answer is always "no match".
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> Result<Verified, HashError> {
        self.pass_gate().await;
        let password = password.expose().to_owned();
        match stored {
            Some(stored) => {
                let stored = stored.to_owned();
                self.pool
                    .run(move |hasher| phc::verify_with(password.as_bytes(), &stored, hasher))
                    .await
            }
            None => {
                let dummy = Arc::clone(&self.dummy_hash);
                self.pool
                    .run(move |hasher| phc::verify_with(password.as_bytes(), &dummy, hasher))
                    .await?;
                Ok(Verified {
                    matches: false,
                    needs_rehash: false,
                })
            }
        }
    }

    /// Permits not in use right now (for tests and metrics).
    pub fn available_permits(&self) -> usize {
        self.pool.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::{phc::params, pool::HASH_NICENESS, *};
    use crate::domain::Username;
    use argon2::{
        password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString},
        Algorithm, Argon2, Params, Version,
    };

    fn password(s: &str) -> Password {
        Password::parse(
            &SecretString::new(s),
            &Username::parse("alice").expect("valid"),
            8,
        )
        .expect("strong")
    }

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_spec_parameters() {
        let hasher = PasswordHasher::new(2, Duration::from_secs(30))
            .await
            .expect("hasher");
        let hash = hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let again = hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        assert_ne!(hash, again, "every hash has its own salt");
    }

    #[tokio::test]
    async fn verification_accepts_the_password_and_nothing_else() {
        let hasher = PasswordHasher::new(2, Duration::from_secs(30))
            .await
            .expect("hasher");
        let hash = hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        let ok = hasher
            .verify(&SecretString::new("tangerine-violin-87"), Some(&hash))
            .await
            .expect("verify");
        assert_eq!(
            ok,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
        let wrong = hasher
            .verify(&SecretString::new("tangerine-violin-88"), Some(&hash))
            .await
            .expect("verify");
        assert!(!wrong.matches);
        let unknown = hasher
            .verify(&SecretString::new("tangerine-violin-87"), None)
            .await
            .expect("verify");
        assert!(!unknown.matches);
    }

    #[tokio::test]
    async fn hashes_with_weaker_parameters_are_flagged_for_upgrade() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let weak_params = Params::new(8192, 1, 1, None).expect("params");
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, weak_params)
            .hash_password(b"tangerine-violin-87", &salt)
            .expect("hash")
            .to_string();
        let checked = hasher
            .verify(&SecretString::new("tangerine-violin-87"), Some(&weak))
            .await
            .expect("verify");
        assert_eq!(
            checked,
            Verified {
                matches: true,
                needs_rehash: true
            }
        );
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"tangerine-violin-87", &salt)
            .expect("hash")
            .to_string();
        let checked = hasher
            .verify(&SecretString::new("tangerine-violin-87"), Some(&argon2i))
            .await
            .expect("verify");
        assert!(checked.matches && checked.needs_rehash);
    }

    #[tokio::test]
    async fn a_saturated_hasher_answers_busy_instead_of_queueing_forever() {
        let hasher = PasswordHasher::new(1, Duration::from_millis(50))
            .await
            .expect("hasher");
        let held = Arc::clone(&hasher.pool.permits)
            .acquire_owned()
            .await
            .expect("permit");
        let result = hasher.hash(&password("tangerine-violin-87")).await;
        assert!(matches!(result, Err(HashError::Busy)), "{result:?}");
        drop(held);
        assert!(hasher.hash(&password("tangerine-violin-87")).await.is_ok());
    }

    #[tokio::test]
    async fn our_hashes_and_the_reference_implementations_agree() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let ours = hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        let parsed = PasswordHash::new(&ours).expect("PHC");
        assert!(Argon2::default()
            .verify_password(b"tangerine-violin-87", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"tangerine-violin-88", &parsed)
            .is_err());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let theirs = Argon2::new(Algorithm::Argon2id, Version::V0x13, params())
            .hash_password(b"tangerine-violin-87", &salt)
            .expect("hash")
            .to_string();
        let checked = hasher
            .verify(&SecretString::new("tangerine-violin-87"), Some(&theirs))
            .await
            .expect("verify");
        assert_eq!(
            checked,
            Verified {
                matches: true,
                needs_rehash: false
            }
        );
    }

    /// A hash published with the argon2 reference implementation's own tests.
    #[tokio::test]
    async fn a_hash_from_the_reference_test_suite_verifies() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let published =
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let right = hasher
            .verify(&SecretString::new("password"), Some(published))
            .await
            .expect("verify");
        assert!(right.matches);
        let wrong = hasher
            .verify(&SecretString::new("passwore"), Some(published))
            .await
            .expect("verify");
        assert!(!wrong.matches);
    }

    #[tokio::test]
    async fn a_hash_asking_for_absurd_memory_is_refused() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let hostile =
            "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$2wGRVjTcCQ2qlS9Tt1dXnbHlATfGBjDgE8nEoaeZR5I";
        let result = hasher
            .verify(&SecretString::new("whatever-it-is"), Some(hostile))
            .await;
        assert!(matches!(result, Err(HashError::Other(_))), "{result:?}");
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let nice = hasher
            .pool
            .run(|_| {
                // SAFETY: reading this thread's own priority.
                let nice = unsafe {
                    libc::getpriority(libc::PRIO_PROCESS, libc::syscall(libc::SYS_gettid) as libc::id_t)
                };
                Ok(nice)
            })
            .await
            .expect("job");
        assert_eq!(nice, HASH_NICENESS);
    }

    #[tokio::test]
    async fn a_panicking_job_leaves_the_pool_working() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let result = hasher
            .pool
            .run(|_| -> anyhow::Result<()> { panic!("a job that fails badly") })
            .await;
        assert!(matches!(result, Err(HashError::Other(_))), "{result:?}");
        assert_eq!(hasher.available_permits(), 1, "the permit came back");
        assert!(
            hasher.hash(&password("tangerine-violin-87")).await.is_ok(),
            "the only hashing thread survived"
        );
    }

    /// The capacity of the argon2 memory a hashing thread holds when it takes a job.
    async fn held_blocks(hasher: &PasswordHasher) -> usize {
        hasher
            .pool
            .run(|hasher| Ok(hasher.reserved_blocks()))
            .await
            .expect("job")
    }

    #[tokio::test]
    async fn a_hashing_thread_keeps_its_memory_between_hashes() {
        let hasher = PasswordHasher::with_idle_release(1, Duration::from_secs(30), Duration::from_secs(600))
            .await
            .expect("hasher");
        hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        assert!(held_blocks(&hasher).await >= params().block_count());
    }

    #[tokio::test]
    async fn an_idle_hashing_thread_returns_its_memory_and_still_hashes() {
        let idle = Duration::from_millis(50);
        let hasher = PasswordHasher::with_idle_release(1, Duration::from_secs(30), idle)
            .await
            .expect("hasher");
        // The dummy hash made the thread take its memory; with no work, it gives it back.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            tokio::time::sleep(idle * 4).await;
            if held_blocks(&hasher).await == 0 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the memory was never released"
            );
        }
        let hash = hasher.hash(&password("tangerine-violin-87")).await.expect("hash");
        let checked = hasher
            .verify(&SecretString::new("tangerine-violin-87"), Some(&hash))
            .await
            .expect("verify");
        assert!(checked.matches);
    }

    #[tokio::test]
    async fn a_corrupt_stored_hash_is_an_error_not_a_match() {
        let hasher = PasswordHasher::new(1, Duration::from_secs(30))
            .await
            .expect("hasher");
        let result = hasher
            .verify(&SecretString::new("whatever-it-is"), Some("not-a-hash"))
            .await;
        assert!(matches!(result, Err(HashError::Other(_))));
    }
}
