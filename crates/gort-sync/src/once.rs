//! Go's `sync.Once`, for tasks.
//!
//! Go's design, unchanged: an atomic `done` flag for the fast path, and a
//! mutex (here gort's async [`Mutex`]) that the slow path holds while it
//! runs the function, so that concurrent callers wait until the first call
//! has finished rather than returning early. `done` is set after the
//! function returns, under the mutex; the Release store pairs with the
//! Acquire load of the fast path, so a caller that sees `done` sees every
//! effect of the function.
//!
//! A function that panics counts as having run, as in Go (`defer
//! o.done.Store(1)`): later calls do nothing. Only a panic out of the
//! function itself (its call, or a poll of its future) counts: a call
//! dropped during the unwinding of a panic from elsewhere is a cancelled
//! call (below). A `do_once` future dropped
//! while its function's future is still pending is not a completed call:
//! the next caller runs its own function.

use std::future::Future;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use crate::loom::AtomicUsize;
use crate::mutex::Mutex;

/// Performs exactly one action (Go's `sync.Once`).
///
/// # Examples
///
/// ```
/// let once = gort_sync::Once::new();
/// let mut n = 0;
/// futures::executor::block_on(async {
///     once.call_once(|| n += 1).await;
///     once.call_once(|| n += 1).await;
/// });
/// assert_eq!(n, 1);
/// assert!(once.is_completed());
/// ```
#[derive(Debug, Default)]
pub struct Once {
    /// `DONE` once the action has run (or panicked), `INCOMPLETE`
    /// before (Go's `done uint32`).
    done: AtomicUsize,
    /// Held by the caller running the action.
    m: Mutex<()>,
}

/// `Once::done` before the action has completed (0, as `Default` makes it).
const INCOMPLETE: usize = 0;
/// `Once::done` once the action has run (or panicked).
const DONE: usize = 1;

/// Sets `done` when dropped (Go's deferred store): it lives across one
/// poll of the action's future and is forgotten when that poll returns, so
/// it is dropped only by a panic unwinding out of the action itself. A
/// panic elsewhere that drops a pending call (the caller's frame, a sibling
/// future of the same task) leaves it a cancelled call, not a panicked one.
struct DoneOnPanic<'a>(&'a AtomicUsize);

impl Drop for DoneOnPanic<'_> {
    fn drop(&mut self) {
        // Release: as the normal store in `do_once`.
        self.0.store(DONE, Release);
    }
}

impl Once {
    /// A `Once` whose action has not run.
    pub fn new() -> Once {
        Once::default()
    }

    /// Calls `f` if no call of this `Once` has completed; waits while
    /// another call is running, and returns after it.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: `f` runs synchronously in one poll, so a dropped future
    /// either ran it completely or not at all.
    pub async fn call_once<F: FnOnce()>(&self, f: F) {
        self.do_once(|| async { f() }).await;
    }

    /// Like [`call_once`](Once::call_once), with an async action: `f()`'s
    /// future is awaited while the other callers wait.
    ///
    /// # Cancel safety
    ///
    /// If this future is dropped while the action's future is pending, the
    /// action did not complete and the `Once` stays incomplete: the next
    /// caller (possibly one already waiting) runs its own action.
    ///
    /// # Examples
    ///
    /// ```
    /// let once = gort_sync::Once::new();
    /// futures::executor::block_on(once.do_once(|| async { /* init */ }));
    /// assert!(once.is_completed());
    /// ```
    pub async fn do_once<F, Fut>(&self, f: F)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        // Acquire: pairs with the Release store after the action, so its
        // effects are visible to us.
        if self.done.load(Acquire) == DONE {
            return;
        }
        let _running = self.m.lock().await;
        // Relaxed: the mutex orders us after whoever set it.
        if self.done.load(Relaxed) == INCOMPLETE {
            let on_panic = DoneOnPanic(&self.done);
            let action = f();
            std::mem::forget(on_panic);
            let mut action = std::pin::pin!(action);
            std::future::poll_fn(|cx| {
                let on_panic = DoneOnPanic(&self.done);
                let r = action.as_mut().poll(cx);
                std::mem::forget(on_panic);
                r
            })
            .await;
            // Release: pairs with the fast path's Acquire load.
            self.done.store(DONE, Release);
        }
    }

    /// [`call_once`](Once::call_once) for a thread outside any runtime,
    /// blocking it while another call runs.
    pub fn call_once_blocking<F: FnOnce()>(&self, f: F) {
        futures::executor::block_on(self.call_once(f));
    }

    /// Whether a call has completed (or panicked).
    pub fn is_completed(&self) -> bool {
        // Acquire: as the fast path of `do_once`.
        self.done.load(Acquire) == DONE
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use tokio_test::task::spawn;
    use tokio_test::{assert_pending, assert_ready};

    use super::*;

    #[test]
    fn panic_counts_as_done() {
        let once = Once::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            once.call_once_blocking(|| panic!("boom"))
        }));
        assert!(r.is_err());
        assert!(once.is_completed());
        let mut ran = false;
        once.call_once_blocking(|| ran = true);
        assert!(!ran);
    }

    /// An async action whose call itself panics (before it returns its
    /// future) counts as having run, as one whose future panics does.
    #[test]
    fn panic_making_the_action_counts_as_done() {
        let once = Once::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            futures::executor::block_on(
                once.do_once(|| -> std::future::Ready<()> { panic!("boom before the future") }),
            )
        }));
        assert!(r.is_err());
        assert!(once.is_completed());
    }

    /// A call dropped while its action is pending, during the unwinding of
    /// a panic that did not come from the action (the caller's own frame,
    /// a sibling future in the same task), is a cancelled call, not a
    /// panicked one: the `Once` stays incomplete and the next caller runs.
    #[test]
    fn dropped_during_an_unrelated_panic_is_not_a_completed_call() {
        let once = Once::new();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let (_tx, rx) = futures::channel::oneshot::channel::<()>();
            let mut call = spawn(once.do_once(|| async {
                let _ = rx.await;
            }));
            assert_pending!(call.poll());
            panic!("a panic elsewhere, with the call pending");
        }));
        assert!(r.is_err());
        assert!(!once.is_completed(), "a cancelled call counted as done");
        let mut ran = false;
        once.call_once_blocking(|| ran = true);
        assert!(ran);
    }

    /// A second caller waits for the first call's async action; a dropped
    /// first call leaves the `Once` to the second.
    #[test]
    fn waiters_wait_and_cancelled_call_does_not_count() {
        let once = Once::new();
        let (tx, rx) = futures::channel::oneshot::channel::<()>();
        let mut first = spawn(once.do_once(|| async {
            let _ = rx.await;
        }));
        assert_pending!(first.poll());
        let mut second_ran = false;
        let mut second = spawn(once.call_once(|| second_ran = true));
        assert_pending!(second.poll(), "waits for the running call");
        drop(first);
        drop(tx);
        assert!(!once.is_completed());
        assert!(second.is_woken());
        assert_ready!(second.poll());
        drop(second);
        assert!(second_ran);
        assert!(once.is_completed());
    }
}
