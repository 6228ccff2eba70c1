//! The hashing threads: one per CPU the process may use, so a storm of sign-ins queues
//! here instead of stalling page rendering.
//! - each thread keeps its 19 MiB of argon2 memory while sign-ins keep coming, so memory
//!   is bounded (threads × 19 MiB) and nothing is allocated or returned per hash; a
//!   thread that has had no work for [`IDLE_RELEASE`] gives its memory back (wiped), so
//!   an idle server stays small;
//! - the threads run at a lower scheduling priority (nice 2), so when pages and sign-ins
//!   compete for a core, pages keep most of it and sign-ins still progress;
//! - admission is a semaphore whose wait is bounded: past it the caller gets
//!   [`HashError::Busy`] (503 + Retry-After) rather than an endless queue.

use super::{phc, HashError};
use anyhow::{anyhow, Context};
use argon2_rust::Hasher;
use std::{
    collections::VecDeque,
    sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// How much less CPU time hashing threads get than request threads under contention
/// (Linux nice value: weight 655 against 1024, about two fifths of a contended core).
pub(super) const HASH_NICENESS: i32 = 2;
/// How long a hashing thread keeps its argon2 memory without work before returning it.
pub const IDLE_RELEASE: Duration = Duration::from_secs(2);

/// Work for a hashing thread: it lends its argon2 hasher (and the memory the hasher
/// keeps) to the job.
type Job = Box<dyn FnOnce(&mut Hasher) + Send>;

/// The hashing threads and the admission to them.
#[derive(Clone)]
pub(super) struct Pool {
    pub(super) permits: Arc<Semaphore>,
    max_wait: Duration,
    jobs: Arc<Submitter>,
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
    let normal_blocks = phc::params().block_count();
    // The hasher keeps its memory (a private mapping, wiped when given back) between jobs.
    let mut hasher = phc::new_hasher();
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
            hasher = phc::new_hasher();
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

/// One hash waiting for a thread, counted in the queue gauge until dropped (also when
/// the request waiting for it goes away).
struct Queued(::metrics::Gauge);

impl Queued {
    fn join() -> Queued {
        let gauge = ::metrics::gauge!(crate::server::metrics::HASH_QUEUE);
        gauge.increment(1);
        Queued(gauge)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.decrement(1);
    }
}

impl Pool {
    /// `threads` hashing threads whose jobs wait at most `max_wait` for a permit.
    pub(super) fn start(threads: usize, max_wait: Duration, idle_release: Duration) -> anyhow::Result<Pool> {
        Ok(Pool {
            permits: Arc::new(Semaphore::new(threads)),
            max_wait,
            jobs: start_pool(threads, idle_release)?,
        })
    }

    /// Runs `work` on a hashing thread once a permit is free.
    pub(super) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Hasher) -> anyhow::Result<T> + Send + 'static,
    ) -> Result<T, HashError> {
        let waiting = Instant::now();
        let queued = Queued::join();
        let acquired = tokio::time::timeout(self.max_wait, Arc::clone(&self.permits).acquire_owned()).await;
        drop(queued);
        ::metrics::histogram!(crate::server::metrics::HASH_WAIT_SECONDS)
            .record(waiting.elapsed().as_secs_f64());
        let permit: OwnedSemaphorePermit = acquired
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
}
