//! Go 1.25's `testing/synctest`: run concurrent code in a bubble whose
//! clock is virtual.
//!
//! [`run`] builds a fresh runtime that is a bubble and runs a future in it:
//! the future and every task it spawns read [`time::now`](crate::time::now),
//! and every `gort::time` deadline is on the bubble's clock. The clock
//! starts when the bubble is made and stands still while any task runs; as
//! soon as every task of the bubble is *durably blocked* (waiting on
//! something only another task of the bubble can end: gort channels,
//! `select!`, sleeps and timers, WaitGroup, Mutex, RwMutex, Cond,
//! Semaphore, Once, context done, a `JoinHandle` of the bubble), it jumps
//! to the next timer's deadline. A test that sleeps an hour runs in
//! microseconds, and two runs see the same offsets from the bubble's start.
//!
//! A task waiting on I/O, on a `spawn_blocking` job or on a foreign future
//! (another crate's waker) is not durably blocked: while it waits the
//! clock stands still, as Go's does for a goroutine in a system call.
//! If every task is durably blocked and no timer is pending, nothing can
//! ever happen: the bubble panics with the deadlock message and the dump.
//!
//! How the bubble is built and watched is in `sched/bubble.rs`;
//! `docs/semantics.md` ("synctest") says where it differs from Go's.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::sched::{context, Shared};
use crate::task::WaitReason;

/// Runs `future` in a new bubble (module doc) and returns its output once
/// it and every task it spawned have finished, as Go's `synctest.Test`.
/// `#[gort::test(synctest)]` does the same for a test's body.
///
/// The bubble is a runtime of its own with the default procs
/// (`GORT_MAXPROCS`, else the CPU count) and the deadlock detector on.
///
/// # Panics
///
/// When every task of the bubble is durably blocked and no timer is
/// pending (`all goroutines are asleep - deadlock!` and the dump); when
/// called from inside a gort task; if the runtime cannot be built.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use gort_core::time::{now, sleep};
///
/// let elapsed = gort_core::synctest::run(async {
///     let t0 = now();
///     let naps = (1..=3).map(|h| gort_core::spawn(sleep(Duration::from_secs(h * 3600))));
///     for nap in naps.collect::<Vec<_>>() {
///         nap.await.unwrap();
///     }
///     now() - t0
/// });
/// assert_eq!(elapsed, Duration::from_secs(3 * 3600));
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    if context::with_worker(|w| w.is_some_and(|w| w.current_p().is_some())) {
        panic!(
            "synctest::run called from inside a gort task; use #[gort::test(synctest)] \
             or call it from a plain #[test]"
        );
    }
    let rt = crate::Builder::new()
        .__synctest()
        .build()
        .unwrap_or_else(|e| panic!("synctest::run could not build its runtime: {e}"));
    rt.block_on(future)
}

/// Waits until every other task of the current bubble is durably blocked
/// (Go's `synctest.Wait`): what they were going to do without the clock
/// moving, they have done.
///
/// While a task waits here the clock does not move: the bubble wakes it
/// first. Only one task may wait at a time.
///
/// # Panics
///
/// Outside a bubble; when another task of the bubble is in `wait`.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// gort_core::synctest::run(async {
///     let done = Arc::new(AtomicBool::new(false));
///     let d = done.clone();
///     gort_core::spawn(async move { d.store(true, Ordering::SeqCst) });
///     gort_core::synctest::wait().await;
///     assert!(done.load(Ordering::SeqCst));
/// });
/// ```
pub fn wait() -> Wait {
    Wait {
        shared: None,
        id: None,
    }
}

/// The future returned by [`wait`].
#[must_use = "futures do nothing unless polled"]
pub struct Wait {
    shared: Option<Arc<Shared>>,
    /// The registration with the bubble, while it waits. (Not a waker:
    /// a plain clone held by the task itself would be a reference the
    /// bubble cannot account for.)
    id: Option<u64>,
}

impl std::fmt::Debug for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wait")
            .field("waiting", &self.id.is_some())
            .finish()
    }
}

impl Future for Wait {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let shared = this.shared.get_or_insert_with(|| {
            context::with_current(|h| match h {
                Some(h) if h.shared.bubble.is_some() => h.shared.clone(),
                _ => panic!("synctest::wait called outside a synctest bubble"),
            })
        });
        let bubble = shared.bubble.as_deref().expect("a bubble");
        match bubble.poll_wait(this.id, cx.waker()) {
            Ok(Some(id)) => {
                this.id = Some(id);
                crate::task::set_wait_reason(WaitReason::SynctestWait);
                Poll::Pending
            }
            Ok(None) => {
                this.id = None;
                Poll::Ready(())
            }
            Err(()) => panic!("synctest::wait called by two tasks of one bubble at once"),
        }
    }
}

impl Drop for Wait {
    fn drop(&mut self) {
        if let (Some(shared), Some(id)) = (&self.shared, self.id) {
            if let Some(b) = shared.bubble.as_deref() {
                b.cancel_wait(id);
            }
        }
    }
}
