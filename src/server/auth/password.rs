//! Password hashing with argon2id, kept off the async executor.
//!
//! Hashing is deliberately expensive (19 MiB and two passes). It runs on a small pool of
//! dedicated threads — one per CPU — so a storm of sign-ins queues here instead of
//! stalling page rendering:
//! - each thread keeps its 19 MiB of argon2 memory while sign-ins keep coming, so memory
//!   is bounded (threads × 19 MiB) and nothing is allocated or returned per hash; a
//!   thread that has had no work for [`IDLE_RELEASE`] gives its memory back (wiped), so
//!   an idle server stays small;
//! - the threads run at a lower scheduling priority (nice 2), so when pages and sign-ins
//!   compete for a core, pages keep most of it and sign-ins still progress;
//! - admission is a semaphore whose wait is bounded: past it the caller gets
//!   [`HashError::Busy`] (503 + Retry-After) rather than an endless queue.
//!
//! Two crates share the work: `argon2` (RustCrypto) reads and writes PHC strings and
//! checks their parameters; `argon2_rust` computes the hash with the SIMD code this CPU
//! has (it is ~1.4× faster than the portable code on one core, which is what sign-in
//! throughput is made of). Tests hold the two to the same answers.

use crate::domain::{Password, SecretString};
use anyhow::{anyhow, Context};
use argon2::{
    password_hash::{Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Params, Version,
};
use argon2_rust::{
    params::{Memory, TagLen},
    Hasher,
};
use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::Duration,
};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// argon2id memory cost in KiB (OWASP's first recommended configuration).
pub const M_COST_KIB: u32 = 19_456;
/// argon2id passes.
pub const T_COST: u32 = 2;
/// argon2id lanes.
pub const P_COST: u32 = 1;
/// How much less CPU time hashing threads get than request threads under contention
/// (Linux nice value: weight 655 against 1024, about two fifths of a contended core).
const HASH_NICENESS: i32 = 2;
/// Largest memory cost a stored hash may ask for (a hostile or corrupt row must not
/// make one verification allocate gigabytes).
const MAX_M_COST_KIB: u32 = 256 * 1024;
/// How long a hashing thread keeps its argon2 memory without work before returning it.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// Why a hash or a verification did not produce an answer.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every permit stayed taken for the whole wait: the server is saturated.
    #[error("password hashing is saturated")]
    Busy,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// The outcome of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub matches: bool,
    /// The stored hash uses older (weaker) parameters and should be replaced.
    pub needs_rehash: bool,
}

/// Work for a hashing thread: it lends its argon2 hasher (and the memory the hasher
/// keeps) to the job.
type Job = Box<dyn FnOnce(&mut Hasher) + Send>;

/// Hashes and verifies passwords with a bounded amount of parallel work.
#[derive(Clone)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
    max_wait: Duration,
    jobs: Arc<Submitter>,
    /// A real hash of a random password: verified when the username is unknown so that
    /// both failures cost the same time.
    dummy_hash: Arc<str>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("available_permits", &self.permits.available_permits())
            .finish_non_exhaustive()
    }
}

fn params() -> Params {
    // The constants are valid argon2 parameters; `Params::new` only rejects out-of-range values.
    Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default()
}

/// Lowers the calling thread's priority (Linux: the nice value is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority only reads its arguments and
    // changes the scheduling weight of this thread.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, HASH_NICENESS) != 0 {
            tracing::debug!("could not lower the priority of a hashing thread");
        }
    }
}

/// A hasher for a new hashing thread. Every job names its own configuration, so the
/// one given here is never used to hash.
fn new_hasher() -> Hasher {
    argon2_rust::Argon2::new(
        argon2_rust::Algorithm::Argon2id,
        argon2_rust::Version::V0x13,
        argon2_rust::Params::DEFAULT,
    )
    .hasher()
}

/// Computes the argon2 output for `password` and `salt` into `out` (whose length is the
/// output length), growing the hasher's memory when the parameters ask for more.
fn run_argon2(
    hasher: &mut Hasher,
    algorithm: Algorithm,
    version: Version,
    params: &Params,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> anyhow::Result<()> {
    let algorithm = match algorithm {
        Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
        Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
        Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
    };
    let version = match version {
        Version::V0x10 => argon2_rust::Version::V0x10,
        Version::V0x13 => argon2_rust::Version::V0x13,
    };
    let engine_params = argon2_rust::Params::builder()
        .memory(Memory::kib(u64::from(params.m_cost())))
        .passes(params.t_cost())
        .lanes(params.p_cost())
        .tag_len(TagLen::bytes(out.len() as u64))
        .build()
        .map_err(|e| anyhow!("argon2 parameters: {e}"))?;
    hasher.set_argon2(argon2_rust::Argon2::new(algorithm, version, engine_params));
    hasher
        .hash_into(password, salt, out)
        .map_err(|e| anyhow!("argon2 failed: {e}"))
}

/// A new PHC string for `password` with today's parameters.
fn hash_with(password: &[u8], hasher: &mut Hasher) -> anyhow::Result<String> {
    let params = params();
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    run_argon2(
        hasher,
        Algorithm::Argon2id,
        Version::V0x13,
        &params,
        password,
        salt_raw,
        &mut out,
    )?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow!("params: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Checks `password` against a PHC string, with the parameters the string names.
fn verify_with(password: &[u8], stored: &str, hasher: &mut Hasher) -> anyhow::Result<Verified> {
    let parsed =
        PasswordHash::new(stored).map_err(|e| anyhow!("stored password hash is not a PHC string: {e}"))?;
    let algorithm =
        Algorithm::try_from(parsed.algorithm).map_err(|e| anyhow!("stored hash algorithm: {e}"))?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| anyhow!("stored hash version: {e}"))?
        .unwrap_or_default();
    let stored_params = Params::try_from(&parsed).map_err(|e| anyhow!("stored hash parameters: {e}"))?;
    if stored_params.m_cost() > MAX_M_COST_KIB {
        return Err(anyhow!(
            "stored hash asks for {} KiB of memory",
            stored_params.m_cost()
        ));
    }
    let expected = parsed.hash.ok_or_else(|| anyhow!("stored hash has no output"))?;
    let salt = parsed.salt.ok_or_else(|| anyhow!("stored hash has no salt"))?;
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow!("stored salt: {e}"))?;
    let mut out = vec![0u8; expected.len()];
    run_argon2(
        hasher,
        algorithm,
        version,
        &stored_params,
        password,
        salt_raw,
        &mut out,
    )?;
    // `Output` compares in constant time.
    let matches = Output::new(&out).map_err(|e| anyhow!("output: {e}"))? == expected;
    Ok(Verified {
        matches,
        needs_rehash: matches && is_outdated(&parsed),
    })
}

/// True when a PHC hash is not argon2id v19 with at least our costs.
fn is_outdated(hash: &PasswordHash<'_>) -> bool {
    if hash.algorithm.as_str() != "argon2id" || hash.version != Some(0x13) {
        return true;
    }
    match Params::try_from(hash) {
        Ok(p) => p.m_cost() < M_COST_KIB || p.t_cost() < T_COST || p.p_cost() < P_COST,
        Err(_) => true,
    }
}

/// Jobs waiting for a hashing thread.
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    jobs: VecDeque<Job>,
    /// False once every [`PasswordHasher`] is gone: the threads finish.
    open: bool,
}

/// What a hashing thread does next.
enum Next {
    Run(Job),
    /// No work came for the idle period.
    Idle,
    Stop,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // Jobs never run under the lock, so a poisoned lock still guards a sound queue.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn push(&self, job: Job) -> bool {
        let mut state = self.lock();
        if !state.open {
            return false;
        }
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
        true
    }

    /// The next job; waits at most `idle` for one when given.
    fn next(&self, idle: Option<Duration>) -> Next {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Next::Run(job);
            }
            if !state.open {
                return Next::Stop;
            }
            match idle {
                None => state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(idle) => {
                    let (guard, waited) = self
                        .ready
                        .wait_timeout(state, idle)
                        .unwrap_or_else(PoisonError::into_inner);
                    state = guard;
                    if waited.timed_out() && state.jobs.is_empty() && state.open {
                        return Next::Idle;
                    }
                }
            }
        }
    }
}

/// The submitting side of the queue, shared by every clone of a [`PasswordHasher`];
/// when the last clone goes, the hashing threads finish.
struct Submitter(Arc<Queue>);

impl Drop for Submitter {
    fn drop(&mut self) {
        self.0.lock().open = false;
        self.0.ready.notify_all();
    }
}

/// The body of one hashing thread.
fn hashing_thread(queue: &Queue, idle_release: Duration) {
    lower_priority();
    let normal_blocks = params().block_count();
    // The hasher keeps its memory (a private mapping, wiped when given back) between jobs.
    let mut hasher = new_hasher();
    loop {
        let wait = (hasher.reserved_blocks() > 0).then_some(idle_release);
        let job = match queue.next(wait) {
            Next::Run(job) => job,
            Next::Idle => {
                hasher.clear();
                continue;
            }
            Next::Stop => return,
        };
        // A panicking job must not take the thread with it: its caller sees the dropped
        // reply, and the pool keeps its size.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&mut hasher)));
        if ran.is_err() {
            hasher = new_hasher();
        }
        // An old hash with a larger memory cost grew the memory: give it back.
        if hasher.reserved_blocks() > normal_blocks {
            hasher.clear();
        }
    }
}

/// Starts `threads` hashing threads that take jobs from one queue.
fn start_pool(threads: usize, idle_release: Duration) -> anyhow::Result<Arc<Submitter>> {
    let queue = Arc::new(Queue {
        state: Mutex::new(QueueState {
            jobs: VecDeque::new(),
            open: true,
        }),
        ready: Condvar::new(),
    });
    for n in 0..threads {
        let queue = Arc::clone(&queue);
        std::thread::Builder::new()
            .name(format!("gatehouse-hash-{n}"))
            .spawn(move || hashing_thread(&queue, idle_release))
            .context("cannot start a hashing thread")?;
    }
    Ok(Arc::new(Submitter(queue)))
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
        let threads = parallelism.max(1);
        let mut hasher = PasswordHasher {
            permits: Arc::new(Semaphore::new(threads)),
            max_wait,
            jobs: start_pool(threads, idle_release)?,
            dummy_hash: Arc::from(""),
        };
        let mut random = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut random);
        let dummy_password = hex::encode(random);
        let dummy = hasher
            .run(move |hasher| hash_with(dummy_password.as_bytes(), hasher))
            .await
            .map_err(|e| anyhow!("cannot compute the dummy hash: {e}"))?;
        hasher.dummy_hash = dummy.into();
        Ok(hasher)
    }

    /// Runs `work` on a hashing thread once a permit is free.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Hasher) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let permit: OwnedSemaphorePermit =
            tokio::time::timeout(self.max_wait, Arc::clone(&self.permits).acquire_owned())
                .await
                .map_err(|_| HashError::Busy)?
                .map_err(|_| HashError::Busy)?;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |hasher| {
            let outcome = work(hasher);
            drop(permit);
            let _ = done.send(outcome);
        });
        if !self.jobs.0.push(job) {
            return Err(HashError::Other(anyhow!("the hashing threads have stopped")));
        }
        let outcome = result
            .await
            .map_err(|_| HashError::Other(anyhow!("a hashing thread dropped its job")))?;
        Ok(outcome?)
    }

    /// Hashes a new password into a PHC string.
    pub async fn hash(&self, password: &Password) -> Result<String, HashError> {
        let password = password.expose().to_owned();
        self.run(move |hasher| hash_with(password.as_bytes(), hasher))
            .await
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user, OAuth-only
    /// account) the dummy hash is checked instead and the answer is always "no match".
    pub async fn verify(&self, password: &SecretString, stored: Option<&str>) -> Result<Verified, HashError> {
        let password = password.expose().to_owned();
        match stored {
            Some(stored) => {
                let stored = stored.to_owned();
                self.run(move |hasher| verify_with(password.as_bytes(), &stored, hasher))
                    .await
            }
            None => {
                let dummy = Arc::clone(&self.dummy_hash);
                self.run(move |hasher| verify_with(password.as_bytes(), &dummy, hasher))
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
        self.permits.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Username;
    use argon2::{
        password_hash::{PasswordHasher as _, PasswordVerifier as _},
        Argon2,
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
        let held = Arc::clone(&hasher.permits).acquire_owned().await.expect("permit");
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

    /// The SIMD engine and RustCrypto's portable code give the same bytes for every
    /// variant, version and shape of input, and one hasher moves between parameter sets
    /// (bigger, then smaller memory) without carrying anything over.
    #[test]
    fn the_hashing_engine_agrees_with_the_portable_reference() {
        let long_password = [0xffu8; 200];
        let passwords: [&[u8]; 3] = [b"", b"tangerine-violin-87", &long_password];
        let salts: [&[u8]; 3] = [b"8bytes!!", b"sixteen-byte-slt", &[7u8; 48]];
        // (m KiB, t, p, output bytes)
        let shapes = [
            (8, 1, 1, 32),
            (1000, 2, 4, 64),
            (64, 3, 1, 4),
            (100, 1, 2, 100),
            (4096, 2, 1, 32),
        ];
        let mut hasher = new_hasher();
        let mut case = 0;
        for algorithm in [Algorithm::Argon2d, Algorithm::Argon2i, Algorithm::Argon2id] {
            for version in [Version::V0x10, Version::V0x13] {
                for (m, t, p, len) in shapes {
                    let password = passwords[case % passwords.len()];
                    let salt = salts[case % salts.len()];
                    case += 1;
                    let params = Params::new(m, t, p, Some(len)).expect("params");
                    let mut ours = vec![0u8; len];
                    run_argon2(
                        &mut hasher,
                        algorithm,
                        version,
                        &params,
                        password,
                        salt,
                        &mut ours,
                    )
                    .expect("engine");
                    let mut reference = vec![0u8; len];
                    Argon2::new(algorithm, version, params)
                        .hash_password_into(password, salt, &mut reference)
                        .expect("reference");
                    assert_eq!(
                        ours, reference,
                        "{algorithm:?} {version:?} m={m} t={t} p={p} len={len}"
                    );
                }
            }
        }
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
