//! Go's `sync.Mutex`, for tasks: `lock().await` instead of blocking.
//!
//! # The state word
//!
//! As in Go (`sync/mutex.go`), one atomic word holds everything the fast
//! paths need:
//!
//! ```text
//! bit 0   LOCKED    someone owns the mutex
//! bit 1   WOKEN     a waiter has been woken and has not yet retried
//! bit 2   STARVING  starvation mode (see below)
//! bits 3… waiters   how many waiters are queued
//! ```
//!
//! Invariant (under the queue lock): the waiter count equals the number of
//! waiters in the [`WaitQueue`]. Every change to the count is made by a
//! thread holding the queue lock, in the same critical section as the
//! matching push or pop; only the fast paths (`0 → LOCKED`, `-LOCKED`)
//! touch the word without it.
//!
//! # Normal and starvation mode (Go's big comment, in short)
//!
//! In normal mode waiters queue in FIFO order, but a woken waiter does not
//! own the mutex: it competes with newly arriving lockers, which usually win
//! (they are already running). A woken waiter that loses goes back to the
//! *head* of the queue. Once a waiter has waited more than 1 ms, it switches
//! the mutex to starvation mode: the unlocker then hands ownership directly
//! to the head waiter, and new arrivals neither try the lock nor barge, they
//! queue at the tail. A waiter that receives the mutex by hand-off switches
//! back to normal mode if it was the last waiter or waited less than 1 ms.
//!
//! # Protocol
//!
//! 1. `lock` fast path: CAS `0 → LOCKED`.
//! 2. `lock` slow path, under the queue lock: one CAS either takes the lock
//!    (not locked, not starving) or adds a waiter (setting STARVING if this
//!    waiter has starved and the lock is held, clearing WOKEN if this waiter
//!    was the woken one), then queues the waiter (at the head if it had
//!    queued before) with its waker. Holding the queue lock across the CAS
//!    and the push is what keeps the count equal to the queue.
//! 3. `unlock`: `fetch_sub(LOCKED)`; if anything else is set, the slow path
//!    takes the queue lock and looks again. Normal mode: if there are
//!    waiters and none is woken and the lock is still free, remove one
//!    waiter from the count, set WOKEN, and wake the head waiter, which goes
//!    back to step 2. Starvation mode: give the head waiter the lock
//!    outright (`+LOCKED`, one waiter fewer, STARVING cleared as above),
//!    mark its slot `Handoff` and wake it; it returns the guard without
//!    touching the word.
//!
//! No wake-up is lost: a waiter adds itself to the count under the queue
//! lock while the mutex is held; the unlock that follows sees the count in
//! its `fetch_sub` result and takes the queue lock after the waiter is in
//! the queue.
//!
//! # Differences from Go
//!
//! - Spinning as Go's, for a new arrival only: while the mutex is held in
//!   normal mode, a task spins up to four times 30 spin-loop hints
//!   (`sync_can_spin`/`sync_do_spin`: more than one CPU and P, another P
//!   running a task, nothing queued on this P) and retries before it
//!   queues. Go also spins a woken waiter, and a spinner sets WOKEN so the
//!   unlocker wakes nobody; here a woken waiter goes straight to the queue
//!   step, and an unlock may wake a waiter that then loses to a spinner
//!   (it requeues at the head, as any woken waiter that loses).
//! - Cancellation, which Go does not have. A dropped `lock()` future that
//!   was still queued leaves the queue and the count; one that had been
//!   woken gives up the WOKEN flag and wakes the next waiter if the lock is
//!   free; one that had been handed the lock unlocks it (which hands it on).
//! - Unlocking is the guard's `Drop`; Go's manual `Unlock` (and its
//!   `sync: unlock of unlocked mutex` panic) is the unsafe
//!   [`Mutex::force_unlock`], for a forgotten guard.

#[cfg(test)]
use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use gort_core::runtime::{sync_can_spin, sync_do_spin};
use gort_core::WaitReason;

use crate::loom::{lock, AtomicUsize, Mutex as RawLock, UnsafeCell};
use crate::waitq::{WaitQueue, Wake};

/// The whole word of a free mutex: not locked, nobody woken, normal mode,
/// no waiters.
const UNLOCKED: usize = 0;
/// Someone owns the mutex.
const LOCKED: usize = 1;
/// A waiter has been woken (normal mode) and has not retried yet; while
/// set, unlocks wake no one else.
const WOKEN: usize = 1 << 1;
/// Starvation mode: unlocks hand the mutex to the head waiter.
const STARVING: usize = 1 << 2;
/// One queued waiter in the count.
const WAITER: usize = 1 << 3;
const WAITER_SHIFT: u32 = 3;

/// Go's `starvationThresholdNs`.
const STARVATION_THRESHOLD: Duration = Duration::from_millis(1);

#[cfg(test)]
thread_local! {
    /// Unit tests shorten or lengthen the threshold on their own thread
    /// (poll-level tests run every poll and unlock on it).
    pub(crate) static TEST_THRESHOLD: Cell<Option<Duration>> = const { Cell::new(None) };
}

fn starvation_threshold() -> Duration {
    #[cfg(test)]
    if let Some(d) = TEST_THRESHOLD.with(Cell::get) {
        return d;
    }
    STARVATION_THRESHOLD
}

fn waiters(state: usize) -> usize {
    state >> WAITER_SHIFT
}

/// A mutual exclusion lock for tasks (Go's `sync.Mutex`), owning the data
/// it protects.
///
/// `lock().await` waits without blocking the thread; the returned guard
/// gives access to the data and unlocks when dropped. Not FIFO: see the
/// module-level notes in `docs/semantics.md` and below.
///
/// Works on any executor; on gort a parked task shows the wait reason
/// `mutex` in [`gort_core::runtime::dump`].
///
/// # Fairness
///
/// As in Go: in normal mode a task arriving at an unlocked mutex takes it
/// even if others are waiting (which is fast); a waiter that has waited
/// more than 1 ms switches the mutex to starvation mode, where ownership
/// passes in FIFO order from each unlocker to the head waiter.
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// let rt = gort_core::Runtime::new().unwrap();
/// let total = rt.block_on(async {
///     let m = Arc::new(gort_sync::Mutex::new(0u64));
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             let m = m.clone();
///             gort_core::spawn(async move {
///                 for _ in 0..100 {
///                     *m.lock().await += 1;
///                 }
///             })
///         })
///         .collect();
///     for t in tasks {
///         t.await.unwrap();
///     }
///     let n = *m.lock().await;
///     n
/// });
/// assert_eq!(total, 400);
/// ```
pub struct Mutex<T> {
    /// The state word; see the module docs.
    state: AtomicUsize,
    /// Queued lockers. Protects the waiter count's agreement with the queue.
    queue: RawLock<WaitQueue>,
    /// Accessed only by the owner of LOCKED (or through `&mut self`).
    data: UnsafeCell<T>,
}

// SAFETY: the mutex hands `&mut T` to one owner at a time (LOCKED), on any
// thread, so sharing it needs only that `T` may move between threads.
unsafe impl<T: Send> Sync for Mutex<T> {}

/// What [`Mutex::try_lock`] returns when the mutex is held (or it is in
/// starvation mode, where new arrivals must queue).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TryLockError;

impl fmt::Display for TryLockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mutex is locked")
    }
}

impl std::error::Error for TryLockError {}

impl<T> Mutex<T> {
    /// An unlocked mutex holding `value`.
    pub fn new(value: T) -> Mutex<T> {
        Mutex {
            state: AtomicUsize::new(UNLOCKED),
            queue: RawLock::new(WaitQueue::new()),
            data: UnsafeCell::new(value),
        }
    }

    /// Locks the mutex, waiting until it is available.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future before it completes leaves the mutex
    /// as if this call had never been made. If the lock had already been
    /// handed to it (starvation mode) it is unlocked and passed on; if it
    /// had been woken to retry, the wake-up is passed to the next waiter.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            key: None,
            since: None,
        }
    }

    /// Locks the mutex from a thread outside any runtime, blocking it.
    ///
    /// Never call this from inside a task: it would block the worker.
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        futures::executor::block_on(self.lock())
    }

    /// Locks the mutex if it is free now (Go's `TryLock`).
    ///
    /// # Errors
    ///
    /// [`TryLockError`] if it is held, or if it is in starvation mode (the
    /// waiters come first).
    ///
    /// # Examples
    ///
    /// ```
    /// let m = gort_sync::Mutex::new(1);
    /// let g = m.try_lock().unwrap();
    /// assert!(m.try_lock().is_err());
    /// drop(g);
    /// assert_eq!(*m.try_lock().unwrap(), 1);
    /// ```
    pub fn try_lock(&self) -> Result<MutexGuard<'_, T>, TryLockError> {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return Err(TryLockError);
        }
        // Acquire: pairs with the Release of the previous owner's unlock, so
        // its writes to the data are visible to us.
        match self
            .state
            .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
        {
            Ok(_) => Ok(self.guard()),
            Err(_) => Err(TryLockError),
        }
    }

    /// The data, through a unique borrow: no locking needed.
    pub fn get_mut(&mut self) -> &mut T {
        // SAFETY: `&mut self` excludes every guard and every other access.
        self.data.with_mut(|p| unsafe { &mut *p })
    }

    /// Consumes the mutex, returning the data.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }

    /// Unlocks the mutex without a guard (Go's `Unlock`), for a guard that
    /// was [`mem::forget`](std::mem::forget)-ten.
    ///
    /// # Safety
    ///
    /// The mutex must be locked by a guard that is never used again (it was
    /// forgotten); otherwise that guard would alias the next owner's.
    ///
    /// # Panics
    ///
    /// `sync: unlock of unlocked mutex` if the mutex is not locked.
    pub unsafe fn force_unlock(&self) {
        self.unlock();
    }

    /// Whether the mutex is in starvation mode (for tests and diagnostics).
    #[doc(hidden)]
    pub fn is_starving(&self) -> bool {
        self.state.load(Relaxed) & STARVING != 0
    }

    /// The number of queued waiters (for tests and diagnostics).
    #[doc(hidden)]
    pub fn waiters(&self) -> usize {
        waiters(self.state.load(Relaxed))
    }

    fn guard(&self) -> MutexGuard<'_, T> {
        MutexGuard {
            mutex: self,
            _not_send_sync: PhantomData,
        }
    }

    /// Go's `Unlock`.
    fn unlock(&self) {
        // Release: publishes the critical section to the next owner (its
        // Acquire CAS, or the queue lock for a hand-off).
        let new = self.state.fetch_sub(LOCKED, Release).wrapping_sub(LOCKED);
        if new != UNLOCKED {
            self.unlock_slow(new);
        }
    }

    #[cold]
    fn unlock_slow(&self, new: usize) {
        if new.wrapping_add(LOCKED) & LOCKED == 0 {
            // Undo the subtraction so that a caught panic leaves the word
            // as it was.
            self.state.fetch_add(LOCKED, Relaxed);
            panic!("sync: unlock of unlocked mutex");
        }
        let mut q = lock(&self.queue);
        let mut old = self.state.load(Relaxed);
        loop {
            if old & STARVING != 0 {
                if old & LOCKED == 0 {
                    self.handoff(q, old);
                }
                // Else someone took it before starvation mode began: their
                // unlock hands it off.
                return;
            }
            if waiters(old) == 0 || old & (LOCKED | WOKEN) != 0 {
                // No one to wake, someone already woken, or a barger took it
                // (its unlock will wake).
                return;
            }
            // Relaxed: the queue lock orders this with every other change to
            // the count; the woken waiter synchronises through that lock.
            match self
                .state
                .compare_exchange(old, (old - WAITER) | WOKEN, Relaxed, Relaxed)
            {
                Ok(_) => {
                    let waker = q.notify_front(Wake::Woken);
                    debug_assert!(waker.is_some(), "waiter count > 0 with an empty queue");
                    drop(q);
                    if let Some(w) = waker {
                        w.wake();
                    }
                    return;
                }
                Err(cur) => old = cur,
            }
        }
    }

    /// Starvation mode, the mutex unlocked: hands it to the head waiter.
    /// `old` is the state read under the queue lock `q`.
    fn handoff(&self, mut q: crate::loom::MutexGuard<'_, WaitQueue>, mut old: usize) {
        let Some((since, _)) = q.front() else {
            // Every waiter was cancelled: back to normal mode, unlocked.
            // Relaxed: no data changes hands.
            self.state.fetch_and(!STARVING, Relaxed);
            return;
        };
        let short = since.elapsed() <= starvation_threshold();
        loop {
            debug_assert_eq!(waiters(old), q.len());
            let mut new = old + LOCKED - WAITER;
            if short || waiters(old) == 1 {
                new &= !STARVING;
            }
            // Relaxed: the new owner learns of its ownership through the
            // queue lock (its slot says `Handoff`), which orders it after
            // this thread's Release unlock and everything before.
            match self.state.compare_exchange(old, new, Relaxed, Relaxed) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        let waker = q.notify_front(Wake::Handoff);
        drop(q);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Ok(g) => d.field("data", &&*g),
            Err(_) => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

/// The future of [`Mutex::lock`].
#[must_use = "futures do nothing unless polled"]
pub struct Lock<'a, T> {
    mutex: &'a Mutex<T>,
    /// Our slot in the queue while queued or notified.
    key: Option<usize>,
    /// When we first queued (Go's `waitStartTime`).
    since: Option<Instant>,
}

impl<T> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("queued", &self.key.is_some())
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

impl<'a, T> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<MutexGuard<'a, T>> {
        let m = self.mutex;
        if self.key.is_none() {
            // Fast path. Acquire: pairs with the previous owner's Release.
            if m.state
                .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                .is_ok()
            {
                return Poll::Ready(m.guard());
            }
            // Go's active spinning, for a new arrival: while the mutex is
            // held in normal mode by a task that is likely running on
            // another P, spin a little and retry before queueing
            // (`sync_can_spin` says when).
            let mut iter = 0;
            loop {
                let old = m.state.load(Relaxed);
                if old & STARVING != 0 {
                    break;
                }
                if old & LOCKED == 0 {
                    // Acquire: pairs with the previous owner's Release.
                    if m.state
                        .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
                        .is_ok()
                    {
                        return Poll::Ready(m.guard());
                    }
                    continue;
                }
                if !sync_can_spin(iter) {
                    break;
                }
                sync_do_spin();
                iter += 1;
            }
        }
        let mut q = lock(&m.queue);
        let mut awoke = false;
        if let Some(k) = self.key {
            match q.notified(k) {
                None => {
                    q.set_waker(k, cx.waker());
                    return Poll::Pending;
                }
                Some(Wake::Handoff) => {
                    q.remove(k);
                    self.key = None;
                    // The unlocker set LOCKED for us under the queue lock,
                    // which we hold now: its writes are visible.
                    return Poll::Ready(m.guard());
                }
                Some(Wake::Woken) => {
                    q.remove(k);
                    self.key = None;
                    awoke = true;
                }
            }
        }
        let starving = self
            .since
            .is_some_and(|s| s.elapsed() > starvation_threshold());
        let mut old = m.state.load(Relaxed);
        loop {
            let mut new = old;
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += WAITER;
            }
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                debug_assert!(old & WOKEN != 0, "sync: inconsistent mutex state");
                new &= !WOKEN;
            }
            // Acquire: if this takes the lock, pairs with the previous
            // owner's Release.
            match m.state.compare_exchange(old, new, Acquire, Relaxed) {
                Ok(_) => break,
                Err(cur) => old = cur,
            }
        }
        if old & (LOCKED | STARVING) == 0 {
            return Poll::Ready(m.guard());
        }
        // Queued: at the head if we had waited before (Go's queueLifo).
        let k = match self.since {
            Some(since) => q.push_front(cx.waker(), since, 0),
            None => {
                let now = Instant::now();
                self.since = Some(now);
                q.push_back(cx.waker(), now, 0)
            }
        };
        self.key = Some(k);
        drop(q);
        gort_core::runtime::set_wait_reason(WaitReason::Mutex);
        Poll::Pending
    }
}

impl<T> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        let Some(k) = self.key.take() else { return };
        let m = self.mutex;
        let mut q = lock(&m.queue);
        match q.remove(k) {
            None => {
                // Still queued: leave the count with the queue. If we were
                // the last waiter in starvation mode, the next unlock finds
                // the queue empty and leaves starvation mode.
                // Relaxed: ordered by the queue lock.
                m.state.fetch_sub(WAITER, Relaxed);
            }
            Some(Wake::Woken) => {
                // We hold WOKEN: give it up, and do the wake-up an unlock
                // skipped because of it, if the mutex is free.
                let mut old = m.state.load(Relaxed);
                loop {
                    let mut new = old & !WOKEN;
                    let wake = waiters(new) > 0 && new & (LOCKED | STARVING) == 0;
                    if wake {
                        new = (new - WAITER) | WOKEN;
                    }
                    // Relaxed: ordered by the queue lock, as in unlock_slow.
                    match m.state.compare_exchange(old, new, Relaxed, Relaxed) {
                        Ok(_) => {
                            let waker = if wake {
                                q.notify_front(Wake::Woken)
                            } else {
                                None
                            };
                            drop(q);
                            if let Some(w) = waker {
                                w.wake();
                            }
                            return;
                        }
                        Err(cur) => old = cur,
                    }
                }
            }
            Some(Wake::Handoff) => {
                // The lock is ours: unlock it, which hands it on.
                drop(q);
                m.unlock();
            }
        }
    }
}

/// Access to a [`Mutex`]'s data; unlocks when dropped.
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T> {
    mutex: &'a Mutex<T>,
    /// Send iff `T: Send`, Sync iff `T: Sync`, like `&mut T`.
    _not_send_sync: PhantomData<&'a mut T>,
}

impl<'a, T> MutexGuard<'a, T> {
    /// The mutex this guard locks (for [`Cond::wait`](crate::Cond::wait)).
    pub(crate) fn mutex(this: &Self) -> &'a Mutex<T> {
        this.mutex
    }
}

impl<T> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: the guard owns LOCKED, so no `&mut T` exists elsewhere.
        self.mutex.data.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard owns LOCKED and is borrowed uniquely, so this is
        // the only reference to the data.
        self.mutex.data.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

#[cfg(all(test, not(loom)))]
mod tests;
