//! The user's entry points: [`Builder`], [`Runtime`], [`Handle`], and the
//! free functions that use the current runtime ([`spawn`], [`yield_now`]).

use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::panic::Location;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use crate::blocking::spawn_blocking_at;
use crate::metrics::Metrics;
pub(crate) use crate::sched::config::Config;
use crate::sched::config::ThreadHooks;
pub use crate::sched::handle::Handle;
use crate::sched::shutdown::Wait;
use crate::sched::{block_on, context, Shared};
use crate::task::{new_task_unchecked, Id, JoinHandle};

/// Go's default limit on OS threads (`debug.SetMaxThreads`).
const DEFAULT_MAX_THREADS: usize = 10_000;
/// The default cap on `spawn_blocking` threads (tokio's default).
const DEFAULT_MAX_BLOCKING_THREADS: usize = 512;
/// How long an idle `spawn_blocking` thread waits for work by default
/// (tokio's default).
const DEFAULT_BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);
/// How long the netpoll holder polls without blocking (`Builder::netpoll_spin`).
const DEFAULT_NETPOLL_SPIN: Duration = Duration::from_micros(50);

/// A configuration problem found by [`Builder::build`], carried inside the
/// `io::Error` it returns (`io::ErrorKind::InvalidInput`; get it back with
/// `err.get_ref().and_then(|e| e.downcast_ref::<BuildError>())`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// `procs(0)`: a runtime needs at least one P.
    ZeroProcs,
    /// `GORT_MAXPROCS` is set but is not a positive integer.
    BadMaxProcsEnv(String),
    /// `max_threads` is below `procs`: the Ps could never all run.
    MaxThreadsBelowProcs {
        /// The requested thread cap.
        max_threads: usize,
        /// The number of Ps.
        procs: usize,
    },
    /// `max_blocking_threads(0)`: `spawn_blocking` jobs could never run.
    ZeroBlockingThreads,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::ZeroProcs => f.write_str("procs must be at least 1"),
            BuildError::BadMaxProcsEnv(v) => {
                write!(f, "GORT_MAXPROCS={v:?} is not a positive integer")
            }
            BuildError::MaxThreadsBelowProcs { max_threads, procs } => {
                write!(f, "max_threads ({max_threads}) is below procs ({procs})")
            }
            BuildError::ZeroBlockingThreads => {
                f.write_str("max_blocking_threads must be at least 1")
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl From<BuildError> for io::Error {
    fn from(e: BuildError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Configures and builds a [`Runtime`].
///
/// # Examples
///
/// ```
/// let rt = gort_core::Builder::new().procs(2).thread_name("worker").build().unwrap();
/// assert_eq!(rt.block_on(async { gort_core::runtime::gomaxprocs() }), 2);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Builder {
    procs: Option<usize>,
    max_threads: Option<usize>,
    thread_name: Option<String>,
    stack_size: Option<usize>,
    max_blocking_threads: Option<usize>,
    blocking_keep_alive: Option<Duration>,
    detect_deadlock: bool,
    /// A synctest bubble (`__synctest`).
    synctest: bool,
    netpoll_spin: Option<Duration>,
    /// `on_thread_start`, `on_thread_stop`, `thread_name_fn` (its `Debug`
    /// says which are set).
    hooks: ThreadHooks,
}

impl Builder {
    /// A builder with the defaults: procs from `GORT_MAXPROCS`, else the
    /// CPUs this process may run on, lowered to its cgroup's CPU limit
    /// (quota / period rounded up, at least 2: Go 1.25's rule, which
    /// sysmon keeps following while the limit changes, until the program
    /// calls [`runtime::set_gomaxprocs`](crate::runtime::set_gomaxprocs));
    /// at most 10,000 Ms; threads named `gort-m-N`.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// The number of Ps (Go's GOMAXPROCS): how many tasks run at once.
    /// [`runtime::set_gomaxprocs`](crate::runtime::set_gomaxprocs) changes
    /// it later.
    pub fn procs(mut self, n: usize) -> Builder {
        self.procs = Some(n);
        self
    }

    /// The cap on Ms (worker threads, including those later handed off in
    /// syscalls); not the `spawn_blocking` pool. Must be at least `procs`.
    pub fn max_threads(mut self, n: usize) -> Builder {
        self.max_threads = Some(n);
        self
    }

    /// The prefix of the runtime's threads' names: Ms are `{prefix}-N`,
    /// sysmon `{prefix}-sysmon`, offload threads `{prefix}-blocking-N`
    /// (default prefix `gort-m`). [`Builder::thread_name_fn`] overrides it.
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        self.thread_name = Some(prefix.into());
        self
    }

    /// The stack size of worker threads, in bytes.
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// The cap on `spawn_blocking` threads (default 512, as tokio). They
    /// are started on demand and do not count against `max_threads`; jobs
    /// submitted while all of them are busy wait in a queue. Must be at
    /// least 1.
    pub fn max_blocking_threads(mut self, n: usize) -> Builder {
        self.max_blocking_threads = Some(n);
        self
    }

    /// How long an idle `spawn_blocking` thread waits for a new job before
    /// it exits (default 10 s, as tokio). `Duration::ZERO` retires a thread
    /// as soon as it finds the queue empty.
    pub fn blocking_keep_alive(mut self, d: Duration) -> Builder {
        self.blocking_keep_alive = Some(d);
        self
    }

    /// Turns on Go's deadlock detector (on in `#[gort::test]`): `block_on`
    /// panics with `all goroutines are asleep - deadlock!` and a goroutine
    /// dump when neither its future nor any task can ever be woken — nothing
    /// runnable or running, no timer pending, no I/O source registered, no
    /// blocking work in flight, and no [`Handle`] held by user code that a
    /// thread outside the runtime could spawn or wake through.
    ///
    /// It cannot see a plain thread that holds only a channel end or a
    /// `Waker`: give such a thread a `Handle` (or leave the detector off).
    /// The check runs only while `block_on` is parked, every 20 ms, and is
    /// confirmed twice before it fires.
    ///
    /// # Examples
    ///
    /// ```should_panic
    /// let rt = gort_core::Builder::new().procs(1).detect_deadlock(true).build().unwrap();
    /// rt.block_on(std::future::pending::<()>()); // panics: deadlock!
    /// ```
    pub fn detect_deadlock(mut self, on: bool) -> Builder {
        self.detect_deadlock = on;
        self
    }

    /// Makes the runtime a synctest bubble (`gort::synctest`, what
    /// `#[gort::test(synctest)]` builds): a virtual clock that jumps to the
    /// next timer when every task is durably blocked; `block_on` returns
    /// once the future and every task have finished; the deadlock detector
    /// is on. Not public API: use `gort::synctest::run`.
    #[doc(hidden)]
    pub fn __synctest(mut self) -> Builder {
        self.synctest = true;
        self.detect_deadlock = true;
        self
    }

    /// How long the M about to block in the netpoller polls it without
    /// blocking first, while its sleeps there are shorter than that
    /// (default 50 µs; `Duration::ZERO` turns it off). Go and tokio block
    /// at once.
    ///
    /// Under sustained load those sleeps last a few tens of microseconds,
    /// and each costs the sleeping M a switch out and back and the thread
    /// whose write ends it a wake-up. Polling instead uses CPU that would
    /// otherwise idle in gaps this short, and turns itself off after a
    /// gap longer than the limit, until a sleep is short again. The price
    /// is CPU time: a server whose events come every 20 to 60 µs keeps
    /// one M busy polling between them. Linux's socket busy polling
    /// (`net.core.busy_poll`) makes the same trade, with 50 µs as its
    /// suggested value. `docs/perf-log.md` has the measurements.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// // A service that would rather leave the CPU idle.
    /// let rt = gort_core::Builder::new().netpoll_spin(Duration::ZERO).build().unwrap();
    /// # drop(rt);
    /// ```
    pub fn netpoll_spin(mut self, limit: Duration) -> Builder {
        self.netpoll_spin = Some(limit);
        self
    }

    /// Runs `f` on every thread the runtime starts (Ms, sysmon, offload
    /// threads), first, before the thread does any work, with the runtime
    /// entered (`Handle::current` works in it). Not on a thread that calls
    /// `block_on`: that thread is the caller's. Tokio's `on_thread_start`.
    ///
    /// A panic in `f` is reported on stderr and otherwise ignored.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let s = started.clone();
    /// let rt = gort_core::Builder::new()
    ///     .procs(1)
    ///     .on_thread_start(move || {
    ///         s.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn(async {})).unwrap();
    /// drop(rt);
    /// // At least one M and sysmon.
    /// assert!(started.load(Ordering::SeqCst) >= 2);
    /// ```
    pub fn on_thread_start(mut self, f: impl Fn() + Send + Sync + 'static) -> Builder {
        self.hooks.start = Some(Arc::new(f));
        self
    }

    /// Runs `f` on every thread the runtime starts, as its last act: when
    /// it exits at shutdown, and when it exits because it was idle (an
    /// offload thread after [`Builder::blocking_keep_alive`]). The runtime
    /// is still entered. Every started thread's stop hook has run when the
    /// runtime's drop returns (see [`Runtime`]). Tokio's `on_thread_stop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    /// let (s, t) = (started.clone(), stopped.clone());
    /// let rt = gort_core::Builder::new()
    ///     .on_thread_start(move || {
    ///         s.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .on_thread_stop(move || {
    ///         t.fetch_add(1, Ordering::SeqCst);
    ///     })
    ///     .build()
    ///     .unwrap();
    /// rt.block_on(rt.spawn_blocking(|| ())).unwrap();
    /// drop(rt);
    /// assert_eq!(started.load(Ordering::SeqCst), stopped.load(Ordering::SeqCst));
    /// ```
    pub fn on_thread_stop(mut self, f: impl Fn() + Send + Sync + 'static) -> Builder {
        self.hooks.stop = Some(Arc::new(f));
        self
    }

    /// Names every thread the runtime starts with what `f` returns (called
    /// once per thread, on the thread that starts it), in place of the
    /// [`Builder::thread_name`] prefix. Tokio's `thread_name_fn`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// static N: AtomicUsize = AtomicUsize::new(0);
    /// let rt = gort_core::Builder::new()
    ///     .thread_name_fn(|| format!("app-{}", N.fetch_add(1, Ordering::Relaxed)))
    ///     .build()
    ///     .unwrap();
    /// let name = rt
    ///     .block_on(rt.spawn_blocking(|| std::thread::current().name().map(String::from)))
    ///     .unwrap();
    /// assert!(name.unwrap().starts_with("app-"));
    /// ```
    pub fn thread_name_fn(mut self, f: impl Fn() -> String + Send + Sync + 'static) -> Builder {
        self.hooks.name = Some(Arc::new(f));
        self
    }

    /// Builds the runtime. No thread starts until there is work.
    ///
    /// # Errors
    ///
    /// `InvalidInput` carrying a [`BuildError`] for `procs(0)`, an
    /// unparsable `GORT_MAXPROCS`, `max_threads` below procs, or
    /// `max_blocking_threads(0)`; the OS's
    /// error if the netpoller (an epoll/kqueue instance) cannot be made.
    pub fn build(self) -> io::Result<Runtime> {
        let (procs, procs_by_default) = match self.procs {
            Some(0) => return Err(BuildError::ZeroProcs.into()),
            Some(n) => (n, false),
            None => default_procs()?,
        };
        let max_threads = self.max_threads.unwrap_or(DEFAULT_MAX_THREADS.max(procs));
        if max_threads < procs {
            return Err(BuildError::MaxThreadsBelowProcs { max_threads, procs }.into());
        }
        let max_blocking_threads = self
            .max_blocking_threads
            .unwrap_or(DEFAULT_MAX_BLOCKING_THREADS);
        if max_blocking_threads == 0 {
            return Err(BuildError::ZeroBlockingThreads.into());
        }
        let config = Config {
            procs,
            procs_by_default,
            max_threads,
            thread_name: self.thread_name.unwrap_or_else(|| "gort-m".to_string()),
            stack_size: self.stack_size,
            debug: crate::sched::config::DebugFlags::from_env(),
            max_blocking_threads,
            blocking_keep_alive: self
                .blocking_keep_alive
                .unwrap_or(DEFAULT_BLOCKING_KEEP_ALIVE),
            detect_deadlock: self.detect_deadlock,
            synctest: self.synctest,
            netpoll_spin: self.netpoll_spin.unwrap_or(DEFAULT_NETPOLL_SPIN),
            hooks: self.hooks,
        };
        tracing::debug!(procs, max_threads, "runtime built");
        Ok(Runtime {
            handle: Handle::internal(Arc::new(Shared::new(config)?)),
        })
    }
}

/// `GORT_MAXPROCS` if set, else the CPU count lowered to the cgroup
/// limit (`cgroup.rs`); true in the second case, which sysmon keeps up to
/// date (`procresize.rs`).
fn default_procs() -> Result<(usize, bool), BuildError> {
    let var = std::env::var("GORT_MAXPROCS");
    let by_default = matches!(var, Err(std::env::VarError::NotPresent));
    Ok((procs_from_env(var)?, by_default))
}

/// The number of Ps a `GORT_MAXPROCS` lookup asks for.
fn procs_from_env(var: Result<String, std::env::VarError>) -> Result<usize, BuildError> {
    match var {
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(BuildError::BadMaxProcsEnv(v)),
        },
        Err(std::env::VarError::NotPresent) => Ok(crate::cgroup::default_procs()),
        Err(std::env::VarError::NotUnicode(v)) => {
            Err(BuildError::BadMaxProcsEnv(v.to_string_lossy().into_owned()))
        }
    }
}

/// A gort runtime: Ps, the Ms that run them, timers.
///
/// Dropping it cancels every task (each future is dropped, and its
/// `JoinHandle` reports cancellation), cancels the queued
/// `spawn_blocking` jobs, and waits for every thread the runtime started
/// to exit: the Ms (each after the poll it is in, if any), sysmon, and the
/// offload threads, including those running a blocking job, which cannot
/// be interrupted (tokio's behaviour). When the drop returns, every
/// thread's [`Builder::on_thread_stop`] hook has run. To wait less, use
/// [`Runtime::shutdown_timeout`] or [`Runtime::shutdown_background`].
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// let sum = rt.block_on(async {
///     let hs: Vec<_> = (0..10u64).map(|i| gort_core::spawn(async move { i * i })).collect();
///     let mut sum = 0;
///     for h in hs {
///         sum += h.await.unwrap();
///     }
///     sum
/// });
/// assert_eq!(sum, 285);
/// ```
pub struct Runtime {
    handle: Handle,
}

impl Runtime {
    /// A runtime with the default configuration (see [`Builder::new`]).
    ///
    /// # Errors
    ///
    /// As [`Builder::build`]: an unparsable `GORT_MAXPROCS`.
    pub fn new() -> io::Result<Runtime> {
        Builder::new().build()
    }

    /// Runs `future` to completion on the current thread, with this runtime
    /// entered (so `gort::spawn` and timers work inside it). Spawned tasks run
    /// on the runtime's Ms meanwhile.
    ///
    /// # Panics
    ///
    /// When called from inside a gort task: blocking there would stall the
    /// task's P.
    #[track_caller]
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        block_on::block_on(&self.handle, future, Location::caller(), None)
    }

    /// `block_on` for `#[gort::test(timeout = "..", leak_check)]`: past
    /// `limit`, panics with `test timed out after {text}` and the dump; with
    /// `leak_check`, once the body has returned (whatever it returned, as
    /// goleak's deferred `VerifyNone`), waits up to 1 s for the spawned
    /// tasks and panics with the [`Leaked`](crate::runtime::Leaked) report
    /// if any remain. A body that panics is not checked: its panic is the
    /// failure. Not public API.
    #[doc(hidden)]
    #[track_caller]
    pub fn __block_on_test<F: IntoFuture>(
        &self,
        future: F,
        limit: Option<(std::time::Duration, &'static str)>,
        leak_check: bool,
    ) -> F::Output {
        let limit = limit.map(|(d, text)| block_on::Limit {
            deadline: std::time::Instant::now() + d,
            text,
        });
        let out = block_on::block_on(&self.handle, future, Location::caller(), limit);
        if leak_check {
            if let Err(leaked) = self.handle.check_leaks(std::time::Duration::from_secs(1)) {
                panic!("{leaked}");
            }
        }
        out
    }

    /// A handle to this runtime, for spawning from anywhere: an owned
    /// [`Handle`], which may move to another thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let h = rt.handle();
    /// let out = std::thread::spawn(move || h.block_on(async { 7 }))
    ///     .join()
    ///     .unwrap();
    /// assert_eq!(out, 7);
    /// ```
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The runtime's own handle, borrowed (no clone, not counted as held
    /// by user code for the deadlock detector).
    pub fn handle_ref(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a task on this runtime (see [`Handle::spawn`]).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Runs a blocking closure on the offload pool (see
    /// [`Handle::spawn_blocking`]).
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        self.handle.spawn_blocking(f)
    }

    /// Counters and gauges of the scheduler.
    pub fn metrics(&self) -> Metrics {
        Metrics::collect(&self.handle.shared)
    }

    /// Shuts the runtime down, waiting at most `d` for its threads: cancels
    /// every task (as drop does: futures nobody is polling are dropped on
    /// this thread; one being polled is dropped by its M when the poll
    /// returns) and every queued `spawn_blocking` job, then waits up to
    /// `d` for the Ms, sysmon and offload threads, running blocking jobs
    /// included, to exit, and returns.
    ///
    /// Threads still running past `d` (an M inside a long poll, a blocking
    /// job) finish on their own; the last of them to exit drops what is
    /// left of the runtime (queued references, timers). Tokio's
    /// `shutdown_timeout`; Go has no runtime shutdown.
    ///
    /// Called from inside one of the runtime's own tasks, it cannot wait
    /// for that task's M, so it waits the whole of `d`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let rt = gort_core::Runtime::new().unwrap();
    /// // A job stuck for longer than we care to wait.
    /// let job = rt.spawn_blocking(|| std::thread::sleep(Duration::from_millis(500)));
    /// let task = rt.spawn(std::future::pending::<()>());
    /// rt.shutdown_timeout(Duration::from_millis(10));
    /// assert!(futures::executor::block_on(task).unwrap_err().is_cancelled());
    /// # drop(job);
    /// ```
    pub fn shutdown_timeout(self, d: Duration) {
        let deadline = std::time::Instant::now().checked_add(d);
        let wait = deadline.map_or(Wait::Forever, Wait::Until);
        self.handle.shared.shutdown(wait);
    }

    /// Shuts the runtime down without waiting for its threads: cancels
    /// every task and queued `spawn_blocking` job, as
    /// [`shutdown_timeout`](Runtime::shutdown_timeout) does, and returns at
    /// once. Running polls and blocking jobs finish on their own threads;
    /// the last thread to exit drops what is left of the runtime. It may be
    /// called from inside one of the runtime's own tasks (where dropping
    /// the runtime panics). Tokio's `shutdown_background`.
    ///
    /// `#[gort::main]` ends this way, so that a program exits when its
    /// main returns, as a Go program does, even while a blocking job is
    /// stuck (reading stdin, say).
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let job = rt.spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(200)));
    /// rt.shutdown_background(); // returns without waiting for the job
    /// # drop(job);
    /// ```
    pub fn shutdown_background(self) {
        self.handle
            .shared
            .shutdown(Wait::Until(std::time::Instant::now()));
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let shared = &self.handle.shared;
        if shared.shutdown_begun() {
            // `shutdown_timeout` or `shutdown_background` did it.
            return;
        }
        if context::with_worker(|w| w.is_some_and(|w| Arc::ptr_eq(&w.shared, shared))) {
            panic!("a gort Runtime cannot be dropped from inside one of its own tasks: its drop waits for its threads, this one included (use shutdown_background)");
        }
        shared.shutdown(Wait::Forever);
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("procs", &self.handle.shared.procs())
            .finish()
    }
}

impl Handle {
    /// The runtime this thread has entered (an M, or inside `block_on`).
    ///
    /// # Panics
    ///
    /// Outside a gort runtime, saying so.
    #[track_caller]
    pub fn current() -> Handle {
        Handle::try_current().expect("gort::Handle::current() called outside a gort runtime: call it from a task, from inside Runtime::block_on, or from #[gort::main]")
    }

    /// The runtime this thread has entered, if any.
    pub fn try_current() -> Option<Handle> {
        context::try_current()
    }

    /// Spawns a task. From an M of this runtime it goes to that P's `runnext`
    /// (Go's `newproc`); from anywhere else, to the global queue, waking an
    /// idle M. After the runtime shut down, the task is dropped at once and
    /// its handle reports cancellation.
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_at(future, std::panic::Location::caller())
    }

    /// `spawn` with the spawn site given explicitly, for callers that are
    /// themselves `#[track_caller]` but reach here through a closure.
    pub(crate) fn spawn_at<F>(
        &self,
        future: F,
        at: &'static std::panic::Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.spawn_named(future, None, at)
    }

    /// `spawn_at` with the task's name (`task::Builder::name`).
    pub(crate) fn spawn_named<F>(
        &self,
        future: F,
        name: Option<Box<str>>,
        at: &'static std::panic::Location<'static>,
    ) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let id = Id::next();
        // SAFETY: the future and its output are Send.
        let (task, notified, raw) =
            unsafe { new_task_unchecked(future, self.shared.clone(), id, at, name) };
        let join = JoinHandle::new(raw);
        if let Err(task) = self.shared.owned.insert(task) {
            drop(notified);
            task.shutdown();
            return join;
        }
        tracing::trace!(task.id = id.as_u64(), "spawn");
        self.shared.schedule_new(notified);
        join
    }

    /// Runs `f` on this runtime's offload pool, a set of plain threads
    /// apart from the Ms, and returns a handle to await its result. Use it
    /// for code that blocks or computes for long (file I/O, a blocking
    /// library, hashing): a task awaiting the handle holds no P meanwhile.
    ///
    /// The pool starts a thread when a job finds none idle, up to
    /// [`Builder::max_blocking_threads`] (512 by default); further jobs
    /// queue in FIFO order. A thread idle for
    /// [`Builder::blocking_keep_alive`] (10 s) exits. Pool threads have
    /// the runtime entered, so `gort::spawn` works inside `f`.
    ///
    /// A panic in `f` is caught and reported through the handle
    /// ([`JoinError::is_panic`](crate::JoinError::is_panic)).
    ///
    /// # Cancellation
    ///
    /// [`JoinHandle::abort`] on a job that has not started keeps it from
    /// running (the handle reports cancellation once a pool thread reaches
    /// the job). A job that is running cannot be stopped: abort is then a
    /// no-op and the handle gives its result. Dropping the handle detaches
    /// the job. When the runtime shuts down, queued jobs are cancelled and
    /// running ones finish; dropping the runtime waits for them (tokio's
    /// behaviour), [`Runtime::shutdown_timeout`] waits up to its deadline,
    /// [`Runtime::shutdown_background`] not at all. After shutdown, a new
    /// job is cancelled at once.
    ///
    /// # Examples
    ///
    /// ```
    /// let rt = gort_core::Runtime::new().unwrap();
    /// let h = rt.handle().spawn_blocking(|| {
    ///     std::thread::sleep(std::time::Duration::from_millis(1));
    ///     21 * 2
    /// });
    /// assert_eq!(rt.block_on(h).unwrap(), 42);
    /// ```
    #[track_caller]
    pub fn spawn_blocking<F, R>(&self, f: F) -> JoinHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        spawn_blocking_at(self, f, std::panic::Location::caller())
    }

    /// Makes this runtime current on this thread until the guard drops, so
    /// that `gort::spawn` and timers work from a plain thread.
    ///
    /// While the guard lives, the deadlock detector stays quiet: this
    /// thread could spawn at any time.
    pub fn enter(&self) -> EnterGuard {
        EnterGuard(context::enter(self.clone()))
    }

    /// Runs `future` to completion on the current thread (see
    /// [`Runtime::block_on`]).
    #[track_caller]
    pub fn block_on<F: IntoFuture>(&self, future: F) -> F::Output {
        block_on::block_on(self, future, Location::caller(), None)
    }

    /// Counters and gauges of the scheduler.
    pub fn metrics(&self) -> Metrics {
        Metrics::collect(&self.shared)
    }
}

impl futures::task::Spawn for Handle {
    fn spawn_obj(
        &self,
        future: futures::task::FutureObj<'static, ()>,
    ) -> Result<(), futures::task::SpawnError> {
        if self.shared.is_shutdown() {
            return Err(futures::task::SpawnError::shutdown());
        }
        drop(self.spawn(future));
        Ok(())
    }

    fn status(&self) -> Result<(), futures::task::SpawnError> {
        if self.shared.is_shutdown() {
            Err(futures::task::SpawnError::shutdown())
        } else {
            Ok(())
        }
    }
}

/// Returned by [`Handle::enter`].
#[derive(Debug)]
pub struct EnterGuard(#[allow(dead_code)] context::EnterGuard);

/// Spawns a task on the current runtime (Go's `go` statement).
///
/// # Panics
///
/// Outside a gort runtime, saying so.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gort_core::spawn(async { "hello" });
///     assert_eq!(h.await.unwrap(), "hello");
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let at = std::panic::Location::caller();
    context::with_current(|h| match h {
        Some(h) => h.spawn_at(future, at),
        None => panic!(
            "gort::spawn called outside a gort runtime: call it from a task, \
             from inside Runtime::block_on, or from #[gort::main]"
        ),
    })
}

/// Runs a blocking closure on the current runtime's offload pool and
/// returns a handle to await its result (see [`Handle::spawn_blocking`] for
/// the pool's sizing, cancellation and shutdown).
///
/// # Panics
///
/// Outside a gort runtime, saying so.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let h = gort_core::spawn_blocking(|| std::fs::metadata(".").is_ok());
///     assert!(h.await.unwrap());
///     // A panic comes back through the handle.
///     let h = gort_core::spawn_blocking(|| panic!("boom"));
///     assert!(h.await.unwrap_err().is_panic());
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, R>(f: F) -> JoinHandle<R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let at = std::panic::Location::caller();
    context::with_current(|h| match h {
        Some(h) => spawn_blocking_at(h, f, at),
        None => panic!(
            "gort::spawn_blocking called outside a gort runtime: call it from a task, \
             from inside Runtime::block_on, or from #[gort::main]"
        ),
    })
}

/// Yields to other tasks (Go's `runtime.Gosched`): the task goes to the back
/// of its P's queue.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async { gort_core::yield_now().await });
/// ```
pub async fn yield_now() {
    let mut yielded = false;
    std::future::poll_fn(move |cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Runs `f`, a blocking call, in place (Go's `entersyscall`/`exitsyscall`).
///
/// Use it around a call that may block the thread — a blocking system
/// call, a C library, a mutex held by a thread outside the runtime — that
/// is expected to return soon. It costs a few atomic operations; if `f`
/// returns within a sysmon period (about 20 µs) nothing else happens. If
/// it takes longer and the task's P has other work, sysmon hands the P to
/// another M, so the rest of the P's tasks go on; when `f` returns, this
/// task's M takes its P back, or any idle P, or waits until one frees: never
/// more than `procs` Ms run tasks at once. For work that is long or CPU-
/// bound, [`spawn_blocking`](crate::spawn_blocking)-style offloading keeps
/// the task itself free.
///
/// Outside a runtime (or nested in another `syscall`) it just calls `f`.
///
/// # Examples
///
/// ```
/// let rt = gort_core::Runtime::new().unwrap();
/// let text = rt.block_on(async {
///     gort_core::spawn(async {
///         gort_core::syscall(|| std::fs::read_to_string("Cargo.toml"))
///     })
///     .await
///     .unwrap()
/// });
/// assert!(text.unwrap().contains("gort-core"));
/// ```
pub fn syscall<R>(f: impl FnOnce() -> R) -> R {
    crate::sched::worker::syscall::blocking(f)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::env::VarError;

    #[test]
    fn gort_maxprocs_parsing() {
        assert_eq!(procs_from_env(Ok("3".into())), Ok(3));
        assert_eq!(procs_from_env(Ok(" 2 ".into())), Ok(2));
        for bad in ["0", "-1", "two", "", "1.5"] {
            assert_eq!(
                procs_from_env(Ok(bad.into())),
                Err(BuildError::BadMaxProcsEnv(bad.into())),
                "{bad:?}"
            );
        }
        // The default reads the cgroup files, which Miri's isolation refuses.
        #[cfg(not(miri))]
        assert!(procs_from_env(Err(VarError::NotPresent)).unwrap() >= 1);
        let e: io::Error = BuildError::BadMaxProcsEnv("x".into()).into();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(
            e.to_string(),
            "GORT_MAXPROCS=\"x\" is not a positive integer"
        );
        let inner = e.get_ref().and_then(|e| e.downcast_ref::<BuildError>());
        assert_eq!(inner, Some(&BuildError::BadMaxProcsEnv("x".into())));
    }
}
