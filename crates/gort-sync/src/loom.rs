//! The one place gort-sync imports its synchronisation primitives from:
//! loom's under `--cfg loom`, std's otherwise (see gort-core's `loom.rs`).

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};

/// gort-core's `UnsafeCell` shim: loom's where loom runs, a closure-based
/// wrapper of `std::cell::UnsafeCell` otherwise.
pub(crate) use gort_core::__private::UnsafeCell;

/// gort-core's `AtomicWaker` shim: loom's model where loom runs,
/// `futures`' `AtomicWaker` otherwise (so loom sees a select's and a
/// channel waiter's registration racing its wake-up).
pub(crate) use gort_core::__private::AtomicWaker;

/// Locks, ignoring poisoning: the critical sections of gort-sync's
/// primitives never leave their state half-updated when a user's code
/// panics (user code never runs under these locks). Channels have their own
/// lock (`chan/lock.rs`); the other primitives use this one.
///
/// Waits by the crate's one back-off policy (`backoff.rs`): Go's
/// `lock_futex.go` counts, rounds of `PAUSE`s with one `try_lock` between
/// rounds, in the policy's blocking form (`Backoff::spin`): once the rounds
/// are spent, it sleeps in the mutex's own (futex) wait, as Go's runtime
/// lock does. The critical sections are short, so a contended lock is
/// usually free again long before a futex sleep and wake-up could
/// complete; blocking at once spent much of a contended workload's time in
/// the kernel (`docs/perf-log.md`, "figures moved out of gort-sync's
/// comments", the other primitives' lock). The channel lock
/// (`chan/lock.rs`) follows the same policy but yields instead of sleeping
/// once the rounds are spent: its unlock is a plain store that wakes
/// nobody.
///
/// The uncontended first try is inlined into the caller; the spinning and
/// blocking are not.
#[inline]
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        match m.try_lock() {
            Ok(g) => g,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => lock_slow(m),
        }
    }
}

/// [`lock`] after a failed first try: spin, then block.
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn lock_slow<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    use std::sync::TryLockError;
    let mut backoff = crate::backoff::Backoff::new();
    while backoff.spin() {
        match m.try_lock() {
            Ok(g) => return g,
            Err(TryLockError::Poisoned(e)) => return e.into_inner(),
            Err(TryLockError::WouldBlock) => {}
        }
    }
    m.lock().unwrap_or_else(|e| e.into_inner())
}
