//! A weighted semaphore, after `golang.org/x/sync/semaphore`.
//!
//! The state is small and every operation needs the waiter queue's order,
//! so, as in x/sync, one lock guards both the count of permits in use
//! (`cur`) and the queue; there is no lock-free fast path.
//!
//! FIFO: an `acquire` succeeds at once only if there is room *and* nobody
//! is queued; otherwise it queues. `release` grants permits to the head
//! waiters in order, and stops at the first that does not fit, even if a
//! later, smaller one would: a big request is never starved by a stream of
//! small ones (x/sync's `notifyWaiters`). Grants are hand-offs: the
//! releaser adds the waiter's weight to `cur` and marks its slot, so the
//! waiter owns its permits before it runs.
//!
//! Cancellation: a dropped waiter that was granted releases its permits
//! again; one that was still queued leaves the queue, and if it was the
//! head, the waiters behind it are looked at again (x/sync does the same
//! when a context is cancelled).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use gort_core::WaitReason;

use crate::loom::{lock, Mutex as RawLock};
use crate::waitq::{wake_all, WaitQueue, Wake};

#[derive(Debug)]
struct State {
    /// Permits held.
    cur: usize,
    waiters: WaitQueue,
}

/// A weighted semaphore (`golang.org/x/sync/semaphore.Weighted`).
///
/// # Examples
///
/// ```
/// let sem = gort_sync::Semaphore::new(3);
/// futures::executor::block_on(async {
///     sem.acquire(2).await.unwrap();
///     assert!(!sem.try_acquire(2));
///     assert!(sem.try_acquire(1));
///     sem.release(3);
/// });
/// ```
pub struct Semaphore {
    size: usize,
    state: RawLock<State>,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = lock(&self.state);
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("cur", &s.cur)
            .field("waiters", &s.waiters.len())
            .finish()
    }
}

/// [`Semaphore::acquire`] asked for more permits than the semaphore has.
///
/// x/sync's `Acquire` would block until its context is done; with no
/// context to wait for, gort reports it at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AcquireError {
    /// Permits asked for.
    pub requested: usize,
    /// The semaphore's size.
    pub capacity: usize,
}

impl fmt::Display for AcquireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "semaphore: acquire of {} permits exceeds the size {}",
            self.requested, self.capacity
        )
    }
}

impl std::error::Error for AcquireError {}

impl Semaphore {
    /// A semaphore with `n` permits, all free.
    pub fn new(n: usize) -> Semaphore {
        Semaphore {
            size: n,
            state: RawLock::new(State {
                cur: 0,
                waiters: WaitQueue::new(),
            }),
        }
    }

    /// Acquires `n` permits, waiting in FIFO order until they are free.
    ///
    /// # Errors
    ///
    /// [`AcquireError`] at once if `n` exceeds the size.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a dropped future holds no permits. If they had been
    /// granted to it already, they are released (and passed on); if it was
    /// at the head of the queue, the waiters behind it are looked at again.
    pub fn acquire(&self, n: usize) -> Acquire<'_> {
        Acquire {
            sem: self,
            n,
            key: None,
        }
    }

    /// Acquires `n` permits if they are free now and nobody is queued.
    pub fn try_acquire(&self, n: usize) -> bool {
        let mut s = lock(&self.state);
        if self.size - s.cur >= n && s.waiters.is_empty() {
            s.cur += n;
            true
        } else {
            false
        }
    }

    /// Releases `n` permits, granting them to queued waiters in order.
    ///
    /// # Panics
    ///
    /// `semaphore: released more than held` if fewer than `n` are held.
    pub fn release(&self, n: usize) {
        let mut s = lock(&self.state);
        if n > s.cur {
            drop(s);
            panic!("semaphore: released more than held");
        }
        s.cur -= n;
        let wakers = self.notify_waiters(&mut s);
        drop(s);
        wake_all(wakers);
    }

    /// Permits free now (a snapshot).
    pub fn available(&self) -> usize {
        self.size - lock(&self.state).cur
    }

    /// x/sync's `notifyWaiters`: grants the head waiters that fit, in
    /// order, stopping at the first that does not.
    fn notify_waiters(&self, s: &mut State) -> Vec<Waker> {
        let mut wakers = Vec::new();
        while let Some((_, n)) = s.waiters.front() {
            if self.size - s.cur < n {
                break;
            }
            s.cur += n;
            wakers.extend(s.waiters.notify_front(Wake::Handoff));
        }
        wakers
    }
}

/// The future of [`Semaphore::acquire`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    n: usize,
    key: Option<usize>,
}

impl Future for Acquire<'_> {
    type Output = Result<(), AcquireError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let sem = self.sem;
        let mut s = lock(&sem.state);
        if let Some(k) = self.key {
            return match s.waiters.notified(k) {
                Some(_) => {
                    s.waiters.remove(k);
                    self.key = None;
                    Poll::Ready(Ok(()))
                }
                None => {
                    s.waiters.set_waker(k, cx.waker());
                    Poll::Pending
                }
            };
        }
        if self.n > sem.size {
            return Poll::Ready(Err(AcquireError {
                requested: self.n,
                capacity: sem.size,
            }));
        }
        if sem.size - s.cur >= self.n && s.waiters.is_empty() {
            s.cur += self.n;
            return Poll::Ready(Ok(()));
        }
        self.key = Some(s.waiters.push_back(cx.waker(), Instant::now(), self.n));
        drop(s);
        gort_core::runtime::set_wait_reason(WaitReason::Mutex);
        Poll::Pending
    }
}

impl Drop for Acquire<'_> {
    fn drop(&mut self) {
        let Some(k) = self.key.take() else { return };
        let sem = self.sem;
        let mut s = lock(&sem.state);
        let was_front = s.waiters.is_front(k);
        match s.waiters.remove(k) {
            Some(_) => {
                // Granted: give the permits back (and on).
                drop(s);
                sem.release(self.n);
            }
            None => {
                let wakers = if was_front && sem.size > s.cur {
                    sem.notify_waiters(&mut s)
                } else {
                    Vec::new()
                };
                drop(s);
                wake_all(wakers);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use tokio_test::task::spawn;
    use tokio_test::{assert_pending, assert_ready};

    use super::*;

    /// x/sync's TestLargeAcquireDoesntStarve in miniature: a big request at
    /// the head blocks later small ones until it is served.
    #[test]
    fn fifo_big_request_not_starved() {
        let sem = Semaphore::new(2);
        assert!(sem.try_acquire(1));
        let mut big = spawn(sem.acquire(2));
        assert_pending!(big.poll());
        let mut small = spawn(sem.acquire(1));
        assert_pending!(small.poll(), "one permit is free, but big is first");
        assert!(!sem.try_acquire(1), "try_acquire does not jump the queue");
        sem.release(1);
        assert!(big.is_woken() && !small.is_woken());
        assert_ready!(big.poll()).unwrap();
        sem.release(2);
        assert_ready!(small.poll()).unwrap();
        sem.release(1);
        assert_eq!(sem.available(), 2);
    }

    #[test]
    fn too_large_is_an_error() {
        let sem = Semaphore::new(2);
        let mut a = spawn(sem.acquire(3));
        assert_eq!(
            assert_ready!(a.poll()),
            Err(AcquireError {
                requested: 3,
                capacity: 2
            })
        );
    }

    #[test]
    #[should_panic(expected = "semaphore: released more than held")]
    fn release_more_than_held_panics() {
        let sem = Semaphore::new(2);
        assert!(sem.try_acquire(1));
        sem.release(2);
    }

    /// A granted-then-dropped acquire gives its permits to the next.
    #[test]
    fn dropped_granted_acquire_passes_permits_on() {
        let sem = Semaphore::new(2);
        assert!(sem.try_acquire(2));
        let mut a = spawn(sem.acquire(2));
        let mut b = spawn(sem.acquire(2));
        assert_pending!(a.poll());
        assert_pending!(b.poll());
        sem.release(2);
        assert!(a.is_woken());
        drop(a);
        assert!(b.is_woken());
        assert_ready!(b.poll()).unwrap();
        sem.release(2);
        assert_eq!(sem.available(), 2);
    }

    /// A queued head dropped: the smaller waiters behind it fit now.
    #[test]
    fn dropped_head_lets_the_next_through() {
        let sem = Semaphore::new(2);
        assert!(sem.try_acquire(1));
        let mut big = spawn(sem.acquire(2));
        let mut small = spawn(sem.acquire(1));
        assert_pending!(big.poll());
        assert_pending!(small.poll());
        drop(big);
        assert!(small.is_woken());
        assert_ready!(small.poll()).unwrap();
        sem.release(2);
        assert_eq!(sem.available(), 2);
    }

    /// Cancellation after each number of polls: the permits always add up.
    #[test]
    fn cancel_at_every_poll_point() {
        for polls in 0..3 {
            let sem = Semaphore::new(1);
            assert!(sem.try_acquire(1));
            let mut a = spawn(sem.acquire(1));
            let mut done = false;
            for i in 0..polls {
                if i == 1 {
                    sem.release(1);
                }
                done |= a.poll().is_ready();
            }
            drop(a);
            // Before the second poll the test still holds its permit; after
            // it, `a` had been granted it and returned with it.
            assert_eq!(done, polls == 2);
            sem.release(1);
            assert_eq!(sem.available(), 1, "polls={polls}");
        }
    }
}
