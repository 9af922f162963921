//! Go's `sync.Cond`, for tasks.
//!
//! Go's `notifyList` gives each `Wait` a ticket *before* it unlocks the
//! mutex, and `Signal` wakes the oldest ticket not yet notified; so a
//! signal sent after a waiter unlocked, but before it parked, still finds
//! it. Here the same holds with a FIFO [`WaitQueue`]: `wait` puts the
//! waiter in the queue (under the cond's own lock) and only then unlocks
//! the mutex; queue order is ticket order.
//!
//! `signal` takes the head waiter off the queue and marks it `Handoff` (it
//! carries a signal that must not be lost); `broadcast` marks every queued
//! waiter `Woken`. A waiter dropped after a `signal` reached it passes the
//! signal on to the next waiter, if any; one dropped after a `broadcast`
//! has nothing to pass on.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::task::noop_waker_ref;
use gort_core::WaitReason;

use crate::loom::{lock, Mutex as RawLock};
use crate::mutex::MutexGuard;
use crate::waitq::{wake_all, WaitQueue, Wake};

/// A condition variable (Go's `sync.Cond`) for tasks holding a gort
/// [`Mutex`](crate::Mutex).
///
/// Unlike Go's, the `Cond` is not tied to one mutex at construction: the
/// guard given to [`wait`](Cond::wait) says which mutex to unlock and lock
/// again (as with `std::sync::Condvar`). Use one mutex per `Cond`.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let rt = gort_core::Runtime::new().unwrap();
/// rt.block_on(async {
///     let pair = Arc::new((gort_sync::Mutex::new(false), gort_sync::Cond::new()));
///     let p2 = pair.clone();
///     gort_core::spawn(async move {
///         *p2.0.lock().await = true;
///         p2.1.signal();
///     });
///     let (m, cond) = &*pair;
///     let mut ready = m.lock().await;
///     while !*ready {
///         ready = cond.wait(ready).await;
///     }
/// });
/// ```
#[derive(Default)]
pub struct Cond {
    waiters: RawLock<WaitQueue>,
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond")
            .field("waiters", &lock(&self.waiters).len())
            .finish()
    }
}

impl Cond {
    /// A condition variable with no waiters.
    pub fn new() -> Cond {
        Cond::default()
    }

    /// Unlocks the guard's mutex, waits for a [`signal`](Cond::signal) or
    /// [`broadcast`](Cond::broadcast), and locks the mutex again before
    /// returning. The waiter is registered before the mutex is unlocked, so
    /// a signal sent by a task that takes the mutex after us is never lost.
    ///
    /// As in Go, the condition may no longer hold when this returns; check
    /// it in a loop.
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe in the sense that a dropped future has given up the
    /// guard: the mutex is unlocked (or the future was still re-locking it,
    /// which is itself cancel-safe). A signal that had reached the dropped
    /// waiter is passed to the next waiter.
    pub async fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = MutexGuard::mutex(&guard);
        let key = lock(&self.waiters).push_back(noop_waker_ref(), Instant::now(), 0);
        let notified = Notified {
            cond: self,
            key: Some(key),
        };
        drop(guard);
        notified.await;
        mutex.lock().await
    }

    /// Wakes the longest-waiting task, if any (Go's `Signal`).
    pub fn signal(&self) {
        let waker = lock(&self.waiters).notify_front(Wake::Handoff);
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Wakes every waiting task (Go's `Broadcast`).
    pub fn broadcast(&self) {
        let mut q = lock(&self.waiters);
        let mut wakers = Vec::with_capacity(q.len());
        while !q.is_empty() {
            wakers.extend(q.notify_front(Wake::Woken));
        }
        drop(q);
        wake_all(wakers);
    }
}

/// Waits until the registered waiter has been notified.
struct Notified<'a> {
    cond: &'a Cond,
    key: Option<usize>,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(k) = self.key else {
            return Poll::Ready(());
        };
        let mut q = lock(&self.cond.waiters);
        if q.notified(k).is_some() {
            q.remove(k);
            drop(q);
            self.key = None;
            return Poll::Ready(());
        }
        q.set_waker(k, cx.waker());
        drop(q);
        gort_core::runtime::set_wait_reason(WaitReason::Mutex);
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        let Some(k) = self.key.take() else { return };
        let mut q = lock(&self.cond.waiters);
        if q.remove(k) == Some(Wake::Handoff) {
            // A signal reached us and we will not use it: pass it on.
            let waker = q.notify_front(Wake::Handoff);
            drop(q);
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use tokio_test::task::spawn;
    use tokio_test::{assert_pending, assert_ready};

    use super::*;
    use crate::Mutex;

    #[test]
    fn signal_wakes_one_in_order_broadcast_wakes_all() {
        let m = Mutex::new(0);
        let c = Cond::new();
        let mut ws: Vec<_> = (0..3)
            .map(|_| spawn(async { *c.wait(m.lock().await).await += 1 }))
            .collect();
        for w in &mut ws {
            assert_pending!(w.poll());
        }
        assert!(m.try_lock().is_ok(), "waiters released the mutex");
        c.signal();
        assert!(ws[0].is_woken() && !ws[1].is_woken() && !ws[2].is_woken());
        assert_ready!(ws[0].poll());
        c.broadcast();
        assert!(ws[1].is_woken() && ws[2].is_woken());
        assert_ready!(ws[1].poll());
        assert_ready!(ws[2].poll());
        assert_eq!(*m.try_lock().unwrap(), 3);
    }

    #[test]
    fn signal_with_no_waiter_is_not_stored() {
        let m = Mutex::new(());
        let c = Cond::new();
        c.signal();
        let mut w = spawn(async { drop(c.wait(m.lock().await).await) });
        assert_pending!(w.poll());
    }

    #[test]
    fn dropped_signalled_waiter_passes_the_signal_on() {
        let m = Mutex::new(());
        let c = Cond::new();
        let mut a = spawn(async { drop(c.wait(m.lock().await).await) });
        let mut b = spawn(async { drop(c.wait(m.lock().await).await) });
        assert_pending!(a.poll());
        assert_pending!(b.poll());
        c.signal();
        drop(a);
        assert!(b.is_woken());
        assert_ready!(b.poll());
    }
}
