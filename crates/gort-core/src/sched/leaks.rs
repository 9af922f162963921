//! Leak checks: `runtime::check_leaks(grace)`, `Handle::check_leaks` and
//! `#[gort::test(leak_check)]`, after Uber's goleak (`goleak.VerifyNone`).
//!
//! What counts as a leak: a spawned task of this runtime that has not
//! finished, that is, an entry of the owned list (`task/owned.rs`, Go's
//! `allgs`) whose state is not complete. Left out: the `block_on` futures
//! (they are not in the list, as goleak ignores the test's own goroutine),
//! the calling task when called from inside one (goleak ignores the
//! current goroutine; it is recognised by the address of the wait-reason
//! word the thread is polling, `task::current::polling_word`), local tasks
//! of a `LocalSet` (they live in the set, not in the owned list), and
//! `spawn_blocking` jobs (the offload pool's, not tasks).
//!
//! The algorithm:
//!
//! 1. Count the other live tasks, under each shard's lock in turn. None:
//!    `Ok(())` at once.
//! 2. Otherwise sleep and count again, with exponential back-off: 1 ms,
//!    doubling up to 50 ms, each sleep cut to the deadline (`now + grace`);
//!    never a busy loop. Tasks that finish meanwhile drop out; tasks woken
//!    meanwhile run on the other Ms.
//! 3. At the deadline, format the dump's blocks of just the tasks still
//!    alive (`task::dump_tasks`: the same format as the goroutine dump, so
//!    each names its wait reason, its age, its name and the line that
//!    spawned it) into a [`Leaked`].
//!
//! Why back-off rather than a notification when the list shrinks: a
//! notification needs every completion to look for a waiter, and the list
//! was split into shards with per-shard counts precisely so that spawn and
//! completion write no shared cache line (`owned.rs`). Back-off costs the
//! hot path nothing, and a check is a test's end, where the 50 ms ceiling
//! on the extra latency is invisible next to the grace.
//!
//! Inside a task the wait is a blocking call: it runs under Go's
//! `entersyscall`/`exitsyscall` (`crate::syscall`), so sysmon hands the P
//! to another M and the P's other tasks go on while the caller sleeps.

use std::fmt;
use std::time::{Duration, Instant};

use super::context;
use super::handle::Handle;
use crate::task::{dump_tasks, polling_word, Header};

/// The first sleep between two counts.
const FIRST_BACKOFF: Duration = Duration::from_millis(1);
/// The longest sleep between two counts.
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// The tasks that [`check_leaks`](crate::runtime::check_leaks) found still
/// alive after the grace period.
///
/// `Display` shows `leaked goroutines:` and then the goroutine dump's
/// block of each (`goroutine N [wait reason, age] name:` and `spawned at
/// file:line`).
#[derive(Clone, PartialEq, Eq)]
pub struct Leaked {
    dump: String,
    count: usize,
}

impl Leaked {
    /// How many tasks leaked (at least 1).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The dump of the leaked tasks, without the `leaked goroutines:` line.
    pub fn dump(&self) -> &str {
        &self.dump
    }
}

impl fmt::Display for Leaked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "leaked goroutines:\n{}", self.dump)
    }
}

impl fmt::Debug for Leaked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leaked")
            .field("count", &self.count)
            .field("dump", &self.dump)
            .finish()
    }
}

impl std::error::Error for Leaked {}

impl Handle {
    /// Checks that no spawned task of this runtime outlives the caller:
    /// returns `Ok` as soon as every other task has finished, or after
    /// `grace` the tasks still alive as a [`Leaked`] (see
    /// [`runtime::check_leaks`](crate::runtime::check_leaks), which calls
    /// this on the current runtime).
    pub fn check_leaks(&self, grace: Duration) -> Result<(), Leaked> {
        let me = polling_word();
        let alive = |h: &Header| !h.state.load().is_complete() && !std::ptr::eq(&h.wait_reason, me);
        let count = || {
            let mut n = 0;
            self.shared.owned.for_each(|h| n += usize::from(alive(h)));
            n
        };
        if count() == 0 {
            return Ok(());
        }
        let deadline = Instant::now() + grace;
        // Blocking from a task: hand the P off as for a system call.
        let gone = super::worker::syscall::blocking(|| {
            let mut backoff = FIRST_BACKOFF;
            loop {
                let now = Instant::now();
                if now >= deadline {
                    return false;
                }
                std::thread::sleep(backoff.min(deadline - now));
                if count() == 0 {
                    return true;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        });
        if gone {
            return Ok(());
        }
        let (dump, count) = dump_tasks(&self.shared.owned, alive);
        if count == 0 {
            // The last ones finished between the final count and the dump.
            return Ok(());
        }
        tracing::debug!(leaked = count, "check_leaks: tasks alive after the grace");
        Err(Leaked { dump, count })
    }
}

/// Checks that the current runtime's spawned tasks have all finished:
/// Go's `goleak.VerifyNone`. Returns `Ok` as soon as no other task is
/// alive; otherwise waits up to `grace` for them to finish and reports
/// those still alive, each with its wait reason, its name and the line that
/// spawned it.
///
/// Counted: spawned tasks that have not finished. Not counted: the
/// `block_on` future, the calling task itself, the local tasks of a
/// `LocalSet` (they are not in the runtime's task list) and
/// `spawn_blocking` jobs. It blocks the calling thread for at most `grace`
/// (sleeping with back-off, 1 ms doubling to 50 ms); inside a task that is
/// a blocking call handed off like a system call (`gort::syscall`), so the
/// task's P runs other tasks meanwhile.
///
/// # Errors
///
/// [`Leaked`] when tasks remain after `grace`.
///
/// # Panics
///
/// Outside a gort runtime, saying so.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let done = gort_core::spawn(async { 1 });
///     // Finishes within the grace: no leak.
///     gort_core::runtime::check_leaks(Duration::from_secs(1)).unwrap();
///     assert_eq!(done.await.unwrap(), 1);
///
///     let parked = gort_core::spawn(std::future::pending::<()>());
///     let leaked = gort_core::runtime::check_leaks(Duration::from_millis(10)).unwrap_err();
///     assert_eq!(leaked.count(), 1);
///     assert!(leaked.to_string().starts_with("leaked goroutines:\ngoroutine "));
///     parked.abort();
/// });
/// ```
#[track_caller]
pub fn check_leaks(grace: Duration) -> Result<(), Leaked> {
    let Some(h) = context::try_current() else {
        panic!(
            "gort::runtime::check_leaks called outside a gort runtime: call it from a task, \
             from inside Runtime::block_on, or from #[gort::main]"
        );
    };
    h.check_leaks(grace)
}
