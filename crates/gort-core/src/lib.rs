//! gort-core: the GMP scheduler under gort.
//!
//! Tasks (G) are stackless futures; worker threads (M) run them while holding
//! a processor (P), which owns a local run queue, a `runnext` slot and
//! timers. See `docs/architecture.md` in the repository for a task's life
//! from spawn to completion, and each module's header for its protocol.
//!
//! Most users depend on the `gort` facade crate, which re-exports this one.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

pub(crate) mod loom;

mod blocking;
mod cgroup;
pub(crate) mod exectrace;
pub mod io;
mod join_set;
#[doc(hidden)]
pub mod __private {
    //! Shared with gort-sync; not public API.
    pub use crate::loom::{AtomicWaker, UnsafeCell};
}
mod metrics;
mod rt;
pub(crate) mod sched;
pub mod synctest;
pub mod task;
mod task_builder;
pub mod time;

#[cfg(all(test, loom))]
mod loom_tests;
#[cfg(all(test, not(loom)))]
mod miri_tests;

pub use join_set::JoinSet;
pub use metrics::{LatencyHistogram, MState, MStatus, Metrics};
pub use rt::{
    spawn, spawn_blocking, syscall, yield_now, BuildError, Builder, EnterGuard, Handle, Runtime,
};
pub use task::{Id, JoinError, JoinHandle, WaitReason};
pub use task_builder::Builder as TaskBuilder;

/// Go's `runtime` package: introspection of the current runtime.
pub mod runtime {
    use crate::sched::context;
    pub use crate::sched::leaks::{check_leaks, Leaked};
    #[doc(hidden)]
    pub use crate::sched::poolclean::{pool_clock_nanos, register_pool_cleanup, PoolCleanup};
    pub use crate::task::set_wait_reason;
    use crate::Metrics;

    /// Go's `runtime/trace`: the execution tracer. [`start`](trace::start)
    /// records what every M and P does (task polls, spawns, wake-ups,
    /// steals, parks, hand-offs, sysmon's retakes, netpolls, timers) until
    /// [`stop`](trace::stop), as Chrome Trace Event JSON that Perfetto and
    /// chrome://tracing open. `GORT_DEBUG=trace=PATH` traces a whole run
    /// into `PATH`. Off, each recording point costs one relaxed load.
    pub mod trace {
        pub use crate::exectrace::{start, stop, TraceError, THREAD_TID_BASE};
    }

    /// Live spawned tasks of the current runtime (not the `block_on` future,
    /// not finished ones). 0 outside a runtime.
    pub fn num_goroutines() -> usize {
        context::with_current(|h| h.map_or(0, |h| h.shared.owned.len()))
    }

    /// The number of Ps of the current runtime (Go's `GOMAXPROCS(0)`). 0
    /// outside a runtime.
    pub fn gomaxprocs() -> usize {
        context::with_current(|h| h.map_or(0, |h| h.shared.procs()))
    }

    /// Go's `runtime.GOMAXPROCS(n)`: sets the number of Ps of the current
    /// runtime to `n` and returns the previous value; `0` only queries.
    /// Outside a runtime, 0 and nothing changes.
    ///
    /// The change takes effect without stopping any task: each M whose P
    /// is removed lets it go at its next scheduling point (after the poll
    /// it is in), and the tasks and timers queued on it move to the Ps
    /// that stay; added Ps start taking work at once. Values above the
    /// runtime's `max_threads` are lowered to it (a P needs an M).
    /// Choosing a value stops the runtime from following the cgroup CPU
    /// limit, as in Go 1.25; [`set_default_gomaxprocs`] resumes it.
    ///
    /// ```
    /// let rt = gort_core::Builder::new().procs(2).build().unwrap();
    /// rt.block_on(async {
    ///     use gort_core::runtime::{gomaxprocs, set_gomaxprocs};
    ///     assert_eq!(set_gomaxprocs(4), 2);
    ///     assert_eq!(gomaxprocs(), 4);
    ///     assert_eq!(set_gomaxprocs(0), 4, "0 only asks");
    ///     assert_eq!(set_gomaxprocs(1), 4);
    ///     let n = gort_core::spawn(async { 40 + 2 }).await.unwrap();
    ///     assert_eq!(n, 42);
    /// });
    /// ```
    pub fn set_gomaxprocs(n: usize) -> usize {
        context::with_current(|h| {
            h.map_or(0, |h| match n {
                0 => h.shared.procs(),
                n => h
                    .shared
                    .set_gomaxprocs(n, crate::sched::procresize::Chosen::ByUser),
            })
        })
    }

    /// Go 1.25's `runtime.SetDefaultGOMAXPROCS`: back to the default
    /// number of Ps (the CPU count lowered to the cgroup CPU limit, rounded
    /// up, at least 2), which sysmon then keeps following as the limit
    /// changes. Not `GORT_MAXPROCS`: as in Go, the environment is only the
    /// start-up value. Returns the previous value; 0 outside a runtime.
    pub fn set_default_gomaxprocs() -> usize {
        context::with_current(|h| {
            h.map_or(0, |h| {
                h.shared.set_gomaxprocs(
                    crate::cgroup::default_procs(),
                    crate::sched::procresize::Chosen::ByDefault,
                )
            })
        })
    }

    /// A snapshot of the current runtime's scheduler counters.
    ///
    /// # Panics
    ///
    /// Outside a gort runtime.
    pub fn metrics() -> Metrics {
        crate::Handle::current().metrics()
    }

    /// A goroutine dump: one block per live task with its id, state, wait
    /// reason and spawn site, in the spirit of Go's `runtime.Stack(buf,
    /// true)`, after one for each `block_on` future (`goroutine 0 [...]
    /// main:`, with where `block_on` was called), as Go lists goroutine 1.
    /// Empty outside a runtime.
    pub fn dump() -> String {
        context::with_current(|h| h.map(|h| h.shared.dump()).unwrap_or_default())
    }

    /// The id of the P the calling task runs on, or `None` off an M.
    #[inline]
    pub fn current_proc() -> Option<usize> {
        context::with_worker(|w| w.and_then(|w| w.current_p()).map(|p| p.id))
    }

    /// Go's `sync_runtime_canSpin`: whether a task that found a lock held
    /// may spin once more (its `iter`-th time) instead of parking. Only
    /// while spinning can pay: fewer than four spins so far, more than one
    /// CPU and one P, another P running a task (more Ps than idle ones
    /// plus spinning Ms plus this one, so the holder is likely running
    /// now), and nothing queued on this P (which would wait behind the
    /// spin). Off an M, never. The counts are hints, read relaxed.
    #[doc(hidden)]
    pub fn sync_can_spin(iter: u32) -> bool {
        use crate::loom::Ordering::Relaxed;
        /// Go's `active_spin`.
        const ACTIVE_SPIN: u32 = 4;
        if iter >= ACTIVE_SPIN || ncpu() <= 1 {
            return false;
        }
        context::with_worker(|w| {
            let Some(w) = w else { return false };
            let Some(p) = w.current_p() else { return false };
            let idle = &w.shared.idle;
            let busy_elsewhere =
                idle.nprocs() > idle.npidle.load(Relaxed) + idle.nmspinning.load(Relaxed) + 1;
            busy_elsewhere && !p.has_work()
        })
    }

    /// Go's `sync_runtime_doSpin`: 30 spin-loop hints (`procyield(30)`).
    #[doc(hidden)]
    pub fn sync_do_spin() {
        for _ in 0..30 {
            std::hint::spin_loop();
        }
    }

    /// The CPUs this process may use, read once (Go's `ncpu`).
    fn ncpu() -> usize {
        static NCPU: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        *NCPU.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }
}
