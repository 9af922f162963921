//! The one place gort-core imports its synchronisation primitives from.
//!
//! Under `--cfg loom` every atomic, cell and lock comes from [loom], so the
//! model checker sees every shared access of the protocols that are modelled
//! (the task state word, the run queue with `runnext`, parking). Elsewhere
//! they are the `std` types, at no cost.
//!
//! Code that must never be model-checked (thread spawning for real Ms, the
//! clock) imports from `std` directly and is compiled out of the loom models.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

pub(crate) use std::sync::atomic::Ordering;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::fence;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::fence;

/// `futures`' `AtomicWaker` outside loom; under loom, loom's model of it
/// (`loom::future::AtomicWaker`) behind the same API, so a registration
/// racing a `wake`/`take` is a branch point the model checker explores.
/// futures' own type is built on `std` atomics and cells, which loom can
/// neither see nor schedule around. Public (hidden, as
/// `gort_core::__private::AtomicWaker`) so gort-sync uses the same shim.
#[cfg(not(loom))]
pub use futures::task::AtomicWaker;

/// See the `cfg(not(loom))` item of the same name.
#[cfg(loom)]
#[derive(Debug, Default)]
pub struct AtomicWaker(loom::future::AtomicWaker);

#[cfg(loom)]
impl AtomicWaker {
    /// An `AtomicWaker` with no waker registered.
    pub fn new() -> AtomicWaker {
        AtomicWaker(loom::future::AtomicWaker::new())
    }

    /// Registers `waker` to be woken by the next [`wake`](Self::wake).
    pub fn register(&self, waker: &std::task::Waker) {
        self.0.register_by_ref(waker);
    }

    /// Wakes the registered waker, if any.
    pub fn wake(&self) {
        self.0.wake();
    }

    /// Takes the registered waker out, if any.
    pub fn take(&self) -> Option<std::task::Waker> {
        self.0.take_waker()
    }
}

/// `UnsafeCell` with loom's access tracking where loom runs. Public (hidden,
/// as `gort_core::__private::UnsafeCell`) so gort-sync uses the same shim.
#[cfg(loom)]
pub use loom::cell::UnsafeCell;

/// `UnsafeCell` with the same closure-based API as loom's, so call sites are
/// identical under both configurations.
#[cfg(not(loom))]
#[derive(Debug)]
pub struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    /// A cell holding `value`.
    pub const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Consumes the cell, returning the contents.
    pub fn into_inner(self) -> T {
        self.0.into_inner()
    }

    /// Runs `f` with a shared raw pointer to the contents.
    #[inline(always)]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a unique raw pointer to the contents.
    #[inline(always)]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Locks a mutex, ignoring poisoning: every critical section in gort-core
/// leaves its data consistent before anything that can panic runs, so a
/// poisoned lock still guards valid data.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }
}
