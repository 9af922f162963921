//! The channel's lock: test-and-test-and-set, released by a plain store.
//!
//! # Why not `std::sync::Mutex`
//!
//! A channel operation is a short run of work between a lock and an
//! unlock, and a locked read-modify-write instruction (`lock cmpxchg`,
//! `xchg`) is a large part of it, whether or not another core wants the
//! line. `std::sync::Mutex` (and Go's runtime lock, and parking_lot's)
//! pays one to lock and one more to unlock, because the unlock must learn,
//! atomically with the release, whether a sleeper has to be woken. A lock
//! whose waiters never sleep in the kernel has nobody to wake: its unlock
//! is a `Release` store, a plain `mov` on x86-64. On `select2` (one select
//! over two buffered channels per message) that is two and a half locked
//! instructions fewer per message. (The runs that chose this lock, and
//! parking_lot's that did not pay: `docs/perf-log.md`, "figures moved out
//! of gort-sync's comments", the channel lock.)
//!
//! # Waiting
//!
//! The critical sections are short and never run user code (values are
//! moved, not dropped, under the lock; wakers are woken after it), so a
//! waiter normally finds the lock free again within a round or two. It
//! waits by the crate's one back-off policy (`backoff.rs`, which says why
//! its rounds are long): Go's `lock_futex.go` counts, rounds of `PAUSE`s
//! with one look at the lock between rounds, a plain load
//! (test-and-test-and-set), in the policy's never-blocking form
//! (`Backoff::snooze`): once the rounds are spent, the waiter yields its
//! thread to the OS before each further look, where Go's runtime lock
//! sleeps on a futex. It cannot sleep: its unlock wakes nobody.
//!
//! Yielding, not sleeping, is also what such a wait needs: the only way a
//! holder stays inside for long is to have been preempted by the OS, and
//! yielding is what lets it run again. The cost is a waiter that keeps yielding, rather than
//! sleeping, while an OS-preempted holder waits for a CPU; with channel
//! critical sections that window is one OS time slice.
//! `docs/semantics.md` records this as a deviation from Go.
//!
//! # Orderings
//!
//! Acquiring is a successful `compare_exchange(false, true, Acquire, _)`;
//! releasing is `store(false, Release)`. Every write made under the lock
//! happens-before the next successful acquire, which reads the released
//! `false` (release/acquire on the same atomic); the failed exchanges and the
//! spinning loads are `Relaxed` because they only decide when to try again.
//! Mutual exclusion is the atomicity of the exchange: of the racing
//! exchanges that read `false`, exactly one writes `true`.
//!
//! Under `--cfg loom` the channel uses loom's `Mutex` instead (so the
//! channel's models explore the channel, not this spin loop); this lock has
//! its own model in `loom_tests.rs`.

use std::fmt;
use std::ops::{Deref, DerefMut};

#[cfg(loom)]
use loom::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};
#[cfg(not(loom))]
use std::sync::atomic::{AtomicBool, Ordering::Acquire, Ordering::Relaxed, Ordering::Release};

use crate::backoff::Backoff;
use crate::loom::UnsafeCell;

/// A lock around a `T`; see the module doc. (Under loom only its own model
/// uses it.)
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct ChanLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out `&mut T` to one thread at a time (mutual
// exclusion, module doc), which is what `Mutex<T>: Sync` needs of `T: Send`;
// moving the lock moves the `T`.
unsafe impl<T: Send> Send for ChanLock<T> {}
// SAFETY: as above: shared `&ChanLock<T>` only ever yields the `T` to the
// single guard holder.
unsafe impl<T: Send> Sync for ChanLock<T> {}

/// Proof that the lock is held; releases it when dropped.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct ChanLockGuard<'a, T> {
    lock: &'a ChanLock<T>,
}

#[cfg_attr(loom, allow(dead_code))]
impl<T> ChanLock<T> {
    pub(crate) fn new(value: T) -> ChanLock<T> {
        ChanLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Takes the lock, waiting as the module doc says.
    #[inline]
    pub(crate) fn lock(&self) -> ChanLockGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
        ChanLockGuard { lock: self }
    }

    /// The lock was taken (or the weak exchange failed spuriously): wait on
    /// plain loads until it looks free, then try again.
    #[cold]
    #[inline(never)]
    fn lock_slow(&self) {
        let mut backoff = Backoff::new();
        loop {
            while self.locked.load(Relaxed) {
                backoff.snooze();
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Acquire, Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

impl<T> Deref for ChanLockGuard<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while `locked` is true and was set
        // by this guard's acquire: no other reference to the value exists.
        self.lock.value.with(|p| unsafe { &*p })
    }
}

impl<T> DerefMut for ChanLockGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only borrow.
        self.lock.value.with_mut(|p| unsafe { &mut *p })
    }
}

impl<T> Drop for ChanLockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        // Release: publishes every write made under the lock to the next
        // acquirer (module doc, "Orderings").
        self.lock.locked.store(false, Release);
    }
}

impl<T> fmt::Debug for ChanLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChanLock")
            .field("locked", &self.locked.load(Relaxed))
            .finish_non_exhaustive()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::ChanLock;
    use std::sync::Arc;

    #[test]
    fn counts_exactly_under_contention() {
        const THREADS: usize = 4;
        const PER: usize = if cfg!(miri) { 50 } else { 20_000 };
        let lock = Arc::new(ChanLock::new((0usize, 0usize)));
        let handles: Vec<_> = (0..THREADS)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..PER {
                        let mut g = lock.lock();
                        // Two fields updated non-atomically: a torn pair
                        // means two holders at once.
                        let (a, b) = *g;
                        assert_eq!(a, b, "two threads held the lock at once");
                        g.0 = a + 1;
                        std::hint::spin_loop();
                        g.1 = b + 1;
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().expect("a locking thread panicked");
        }
        assert_eq!(*lock.lock(), (THREADS * PER, THREADS * PER));
    }

    #[test]
    fn a_guard_releases_on_drop_and_on_panic() {
        let lock = Arc::new(ChanLock::new(1));
        {
            let mut g = lock.lock();
            *g += 1;
        }
        let l2 = lock.clone();
        let r = std::thread::spawn(move || {
            let _g = l2.lock();
            panic!("a panic while holding the lock");
        })
        .join();
        assert!(r.is_err());
        // No poisoning: the lock is free again and the value intact.
        assert_eq!(*lock.lock(), 2);
    }
}
