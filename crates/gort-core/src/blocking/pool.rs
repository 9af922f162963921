//! The offload pool itself: a lock-free job queue, a packed word counting
//! live and idle threads, and a token semaphore that idle threads sleep on.
//! The protocol is described in the parent module's documentation; the step
//! numbers below refer to it. The pool sits below the scheduler and knows
//! nothing of the runtime: what its threads enter before they run jobs (the
//! runtime's context) comes through the [`Entry`] trait, which
//! `crate::blocking` implements for the runtime's handle.

use std::time::{Duration, Instant};

use crossbeam_deque::{Injector, Steal};

use crate::loom::{fence, lock, AtomicBool, AtomicU64, AtomicUsize, Condvar, Mutex, Ordering::*};

/// What the pool runs. A `Notified` blocking task in the runtime; a counter
/// in the loom models.
pub(crate) trait Job: Send + 'static {
    /// Runs the job to completion on a pool thread.
    fn run(self);
    /// Drops the job without running it (shutdown): its `JoinHandle`
    /// reports cancellation.
    fn cancel(self);
}

/// What a pool thread enters before it runs jobs: the runtime's context,
/// so that `gort::spawn` works inside a job. The pool knows only this
/// trait; `crate::blocking` implements it for the runtime's handle.
///
/// The runtime also counts its threads, so that its shutdown can wait for
/// them, and runs the user's thread hooks on them: a thread is counted on
/// the submitter's side before it is spawned (`register`) and uncounted
/// when its guard drops, as its last act.
pub(crate) trait Entry: Clone + Send + 'static {
    /// A thread counted before it is spawned; dropping it uncounts it.
    type Ticket: Send + 'static;
    /// Held by the thread for as long as it runs.
    type Guard;
    /// Counts a thread about to be spawned, on the submitter's thread.
    /// `None`: no thread may start any more (the runtime has ended).
    fn register(&self) -> Option<Self::Ticket>;
    /// The new thread's name, given the pool's own.
    fn thread_name(&self, default: String) -> String;
    /// Enters, on the calling (new) thread, before any job.
    fn enter(self, ticket: Self::Ticket) -> Self::Guard;
}

/// No entry: for pools driven by hand (the loom models).
#[cfg_attr(not(loom), allow(dead_code))]
#[derive(Clone)]
pub(crate) struct NoEntry;

impl Entry for NoEntry {
    type Ticket = ();
    type Guard = ();
    fn register(&self) -> Option<()> {
        Some(())
    }
    fn thread_name(&self, default: String) -> String {
        default
    }
    fn enter(self, _ticket: ()) {}
}

/// The pool's settings, from the `Builder`.
#[derive(Debug, Clone)]
pub(crate) struct PoolConfig {
    /// The most threads alive at once (`max_blocking_threads`).
    pub(crate) cap: usize,
    /// How long an idle thread waits for a job before it exits.
    pub(crate) keep_alive: Duration,
    /// Threads are named `{name}-blocking-N`.
    pub(crate) name: String,
    pub(crate) stack_size: Option<usize>,
}

/// One idle thread in [`Pool::state`] (the low half).
const IDLE_ONE: u64 = 1;
/// One live thread in [`Pool::state`] (the high half).
const THREAD_ONE: u64 = 1 << 32;

fn idle(s: u64) -> u64 {
    s & (THREAD_ONE - 1)
}

fn threads(s: u64) -> u64 {
    s >> 32
}

/// What woke a thread waiting on the token semaphore.
#[derive(Debug, PartialEq, Eq)]
enum Wake {
    /// A submitter claimed an idle thread and posted a token: go to work.
    Token,
    /// The keep-alive ran out with no token.
    TimedOut,
    /// The runtime is shutting down.
    Shutdown,
}

pub(crate) struct Pool<J> {
    /// The jobs, in submission order (FIFO). Lock-free: submitters never
    /// contend on a mutex here.
    queue: Injector<J>,
    /// Jobs pushed (or being pushed) and not yet taken. Incremented *before*
    /// the push, decremented after a successful steal, so it is never below
    /// the queue's length. The submitter's side of the handshake (step S1).
    queued: AtomicUsize,
    /// `threads << 32 | idle`: live threads, and those registered idle and
    /// not yet claimed. One word so that "claim an idle thread", "start a
    /// thread" and "retire" each decide on one consistent snapshot.
    state: AtomicU64,
    /// Jobs submitted and not finished (queued or running): the deadlock
    /// detector's "blocking work in flight".
    in_flight: AtomicUsize,
    /// Set once by [`Pool::shutdown`]; read without the lock on the fast
    /// paths, and under `sleep` by waiters.
    shutdown: AtomicBool,
    /// Tokens posted by submitters that claimed an idle thread and not yet
    /// taken. Taken only to post or take a token, never on a submission that
    /// finds no idle thread.
    sleep: Mutex<usize>,
    /// Idle threads wait here for a token.
    cv: Condvar,
    /// Numbers the threads' names. Relaxed: uniqueness only.
    next_id: std::sync::atomic::AtomicUsize,
    config: PoolConfig,
}

impl<J: Job> Pool<J> {
    pub(crate) fn new(config: PoolConfig) -> Pool<J> {
        debug_assert!(config.cap >= 1 && (config.cap as u64) < THREAD_ONE);
        Pool {
            queue: Injector::new(),
            queued: AtomicUsize::new(0),
            state: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            sleep: Mutex::new(0),
            cv: Condvar::new(),
            next_id: std::sync::atomic::AtomicUsize::new(0),
            config,
        }
    }

    /// Live pool threads (idle or running a job). Relaxed: a gauge for
    /// `Metrics`.
    pub(crate) fn threads(&self) -> usize {
        threads(self.state.load(Relaxed)) as usize
    }

    /// Jobs submitted and not yet finished or cancelled.
    // Read by the deadlock detector: it must not fire while blocking work
    // is in flight.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(SeqCst)
    }

    /// Queues `job` and makes sure a thread will run it: wakes an idle
    /// thread if one is registered, else starts one below the cap, else
    /// leaves it to a busy thread (every running thread re-checks the queue
    /// before it registers idle). Threads started here run inside
    /// `entry` (a runtime's context, `crate::blocking`), if given.
    pub(crate) fn submit<E: Entry>(self: &std::sync::Arc<Self>, job: J, entry: Option<&E>) {
        // Relaxed: a count; the handshake orders nothing through it.
        self.in_flight.fetch_add(1, Relaxed);
        // S1: publish. SeqCst RMW, then the fence: pairs with the fence of
        // an idle thread's step I2 (Dekker: either our S2 load sees its
        // registration, or its re-check sees this count).
        self.queued.fetch_add(1, SeqCst);
        self.queue.push(job);
        fence(SeqCst);
        // The same fence pairs with the one in `shutdown`: either we see
        // the flag here, or its drain sees the job.
        if self.shutdown.load(SeqCst) {
            self.drain();
            return;
        }
        // S2: find a thread. SeqCst on `state` throughout (here, in the
        // CASes and on the threads' side): every decision about it takes
        // part in the handshake's single total order.
        let mut s = self.state.load(SeqCst);
        loop {
            let next = if idle(s) > 0 {
                s - IDLE_ONE
            } else if threads(s) < self.config.cap as u64 {
                s + THREAD_ONE
            } else {
                // S3: every thread is busy and the cap is reached; the first
                // to finish its job takes this one.
                return;
            };
            match self.state.compare_exchange(s, next, SeqCst, SeqCst) {
                Ok(_) if next < s => {
                    // Claimed an idle thread: post its token.
                    *lock(&self.sleep) += 1;
                    self.cv.notify_one();
                    return;
                }
                Ok(_) => {
                    self.start_thread(entry);
                    return;
                }
                Err(actual) => s = actual,
            }
        }
    }

    /// Starts a thread already counted in `state`.
    fn start_thread<E: Entry>(self: &std::sync::Arc<Self>, entry: Option<&E>) {
        let entry = match entry {
            None => None,
            Some(e) => match e.register() {
                Some(ticket) => Some((e.clone(), ticket)),
                None => {
                    // The runtime ended while we decided to start a thread:
                    // uncount it. Our job was queued before shutdown's
                    // drain, which cancelled it (`submit`'s fence).
                    self.state.fetch_sub(THREAD_ONE, SeqCst);
                    return;
                }
            },
        };
        let id = self.next_id.fetch_add(1, Relaxed);
        let default = format!("{}-blocking-{id}", self.config.name);
        let name = match &entry {
            Some((e, _)) => e.thread_name(default),
            None => default,
        };
        let pool = self.clone();
        #[cfg(loom)]
        {
            let _ = (name, self.config.stack_size);
            loom::thread::spawn(move || {
                let _entered = entry.map(|(e, t)| e.enter(t));
                pool.run()
            });
        }
        #[cfg(not(loom))]
        {
            let mut b = std::thread::Builder::new().name(name.clone());
            if let Some(size) = self.config.stack_size {
                b = b.stack_size(size);
            }
            // If the spawn fails, the closure and its ticket drop here,
            // uncounting the thread that never ran.
            let res = b.spawn(move || {
                // Dropped last, after `run` returns (shutdown or the
                // keep-alive): the stop hook, then the thread's uncounting.
                let _entered = entry.map(|(e, t)| e.enter(t));
                tracing::debug!(thread = %name, "blocking thread started");
                pool.run();
                tracing::debug!(thread = %name, "blocking thread exits");
            });
            if let Err(e) = res {
                let prev = self.state.fetch_sub(THREAD_ONE, SeqCst);
                tracing::error!(error = %e, "cannot start a spawn_blocking thread");
                // With another thread alive, it takes the job after its
                // current one. With none, nothing ever would.
                if threads(prev) == 1 {
                    panic!("cannot start a spawn_blocking thread and none is running: {e}");
                }
            }
        }
    }

    /// Takes a job off the queue.
    fn pop(&self) -> Option<J> {
        loop {
            match self.queue.steal() {
                Steal::Success(job) => {
                    // Relaxed: the count only has to stay >= the queue's
                    // length, which holds whatever the ordering.
                    self.queued.fetch_sub(1, Relaxed);
                    return Some(job);
                }
                Steal::Retry => std::hint::spin_loop(),
                Steal::Empty => return None,
            }
        }
    }

    /// A job finished or was cancelled. SeqCst: the deadlock detector will
    /// read this count in the same total order as its other "can anything
    /// still wake?" checks.
    fn finish(&self) {
        self.in_flight.fetch_sub(1, SeqCst);
    }

    /// Cancels every queued job (shutdown, or a submission that raced it).
    fn drain(&self) {
        while let Some(job) = self.pop() {
            job.cancel();
            self.finish();
        }
    }

    /// A pool thread's life: run jobs until the queue is empty, register
    /// idle, re-check, sleep until a token, the keep-alive or shutdown.
    pub(crate) fn run(&self) {
        loop {
            // R: run what is queued.
            while let Some(job) = self.pop() {
                // Acquire: pairs with the SeqCst store in `shutdown`; a job
                // popped after it is cancelled, not run.
                if self.shutdown.load(Acquire) {
                    job.cancel();
                } else {
                    job.run();
                }
                self.finish();
            }
            if self.shutdown.load(Acquire) {
                self.state.fetch_sub(THREAD_ONE, SeqCst);
                return;
            }
            // I1: register idle. I2: the fence pairing with the submitter's
            // (S1/S2), then the re-check.
            self.state.fetch_add(IDLE_ONE, SeqCst);
            fence(SeqCst);
            if self.queued.load(SeqCst) > 0 {
                // A job is queued (or being pushed): leave idle and take it.
                match self.leave_idle() {
                    Wake::Token | Wake::TimedOut => {
                        // The job may still be mid-push: let its submitter
                        // finish before popping again.
                        #[cfg(not(loom))]
                        std::thread::yield_now();
                        #[cfg(loom)]
                        loom::thread::yield_now();
                        continue;
                    }
                    Wake::Shutdown => return self.exit_idle(),
                }
            }
            // I3: sleep until a token, the keep-alive, or shutdown.
            let deadline = Instant::now() + self.config.keep_alive;
            match self.wait_token(Some(deadline)) {
                Wake::Token => continue,
                Wake::Shutdown => return self.exit_idle(),
                Wake::TimedOut => {}
            }
            // I4: retire, unless a submitter claimed us meanwhile.
            let mut s = self.state.load(SeqCst);
            loop {
                if idle(s) == 0 {
                    // Every registered idle thread was claimed: a token is
                    // on its way for us. Wait for it.
                    match self.wait_token(None) {
                        Wake::Token | Wake::TimedOut => break,
                        Wake::Shutdown => return self.exit_idle(),
                    }
                }
                match self
                    .state
                    .compare_exchange(s, s - IDLE_ONE - THREAD_ONE, SeqCst, SeqCst)
                {
                    Ok(_) => {
                        tracing::debug!("blocking thread retires after its keep-alive");
                        return;
                    }
                    Err(actual) => s = actual,
                }
            }
        }
    }

    /// Leaves the idle registration taken in I1: uncount ourselves if still
    /// unclaimed, else take the token a submitter is posting.
    fn leave_idle(&self) -> Wake {
        let mut s = self.state.load(SeqCst);
        loop {
            if idle(s) == 0 {
                return self.wait_token(None);
            }
            match self.state.compare_exchange(s, s - IDLE_ONE, SeqCst, SeqCst) {
                Ok(_) => return Wake::Token,
                Err(actual) => s = actual,
            }
        }
    }

    /// Exit at shutdown from the idle state: uncount the thread, and its
    /// idle registration if nobody claimed it (a claimed one's token is
    /// left behind; nobody waits for it any more).
    fn exit_idle(&self) {
        let mut s = self.state.load(SeqCst);
        loop {
            let next = if idle(s) > 0 {
                s - IDLE_ONE - THREAD_ONE
            } else {
                s - THREAD_ONE
            };
            match self.state.compare_exchange(s, next, SeqCst, SeqCst) {
                Ok(_) => return,
                Err(actual) => s = actual,
            }
        }
    }

    /// Waits for a token until `deadline` (`None`: no limit).
    fn wait_token(&self, deadline: Option<Instant>) -> Wake {
        let mut tokens = lock(&self.sleep);
        loop {
            if *tokens > 0 {
                *tokens -= 1;
                return Wake::Token;
            }
            // Read under the lock: `shutdown` sets the flag, then takes the
            // lock to notify, so a waiter cannot sleep through it.
            if self.shutdown.load(SeqCst) {
                return Wake::Shutdown;
            }
            tokens = match deadline {
                None => self.cv.wait(tokens).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return Wake::TimedOut;
                    }
                    self.cv
                        .wait_timeout(tokens, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
        }
    }

    /// Runtime shutdown: idle threads exit, queued jobs are cancelled,
    /// running ones finish, and their threads exit after them. The pool
    /// waits for nothing: the runtime counts its threads (`Entry`) and its
    /// shutdown waits for them (`sched/shutdown.rs`).
    pub(crate) fn shutdown(&self) {
        if self.shutdown.swap(true, SeqCst) {
            return;
        }
        // Pairs with the submitter's fence in `submit`.
        fence(SeqCst);
        drop(lock(&self.sleep));
        self.cv.notify_all();
        self.drain();
    }
}

impl<J> std::fmt::Debug for Pool<J> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.load(Relaxed);
        f.debug_struct("Pool")
            .field("threads", &threads(s))
            .field("idle", &idle(s))
            .field("queued", &self.queued.load(Relaxed))
            .finish()
    }
}
