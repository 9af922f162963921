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

/// The run queues (Go's `runq` and `sched.runq`): crossbeam's deque and
/// injector, or, under loom, a stand-in with the same API over a loom
/// `Mutex`. Loom cannot see crossbeam's atomics, so a model of the
/// scheduler loop would run the wake-up protocol's "is there work?"
/// re-checks out of its sight (and then report executions no real memory
/// model allows, or miss real ones). The stand-in makes every push, steal
/// and emptiness check a loom-visible access; what it does not model is
/// the Chase-Lev algorithm itself, which is crossbeam's (and its own loom
/// and Miri suites').
pub(crate) mod deque {
    pub(crate) use crossbeam_deque::Steal;
    #[cfg(not(loom))]
    pub(crate) use crossbeam_deque::{Injector, Stealer, Worker};

    #[cfg(loom)]
    pub(crate) use model::{Injector, Stealer, Worker};

    #[cfg(loom)]
    mod model {
        use super::Steal;
        use std::collections::VecDeque;
        use std::sync::Arc;

        use loom::sync::Mutex;

        type Q<T> = Arc<Mutex<VecDeque<T>>>;

        /// The owner's end of a FIFO queue.
        pub(crate) struct Worker<T>(Q<T>);
        /// The thieves' end.
        pub(crate) struct Stealer<T>(Q<T>);
        /// The global queue.
        pub(crate) struct Injector<T>(Mutex<VecDeque<T>>);

        impl<T> Worker<T> {
            pub(crate) fn new_fifo() -> Worker<T> {
                Worker(Arc::new(Mutex::new(VecDeque::new())))
            }
            pub(crate) fn stealer(&self) -> Stealer<T> {
                Stealer(self.0.clone())
            }
            pub(crate) fn push(&self, t: T) {
                self.0.lock().unwrap().push_back(t);
            }
            pub(crate) fn pop(&self) -> Option<T> {
                self.0.lock().unwrap().pop_front()
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().unwrap().len()
            }
        }

        /// Moves up to `n` tasks from the front of `q` into `dest` and
        /// returns the first, taking one lock at a time.
        fn batch<T>(q: &Mutex<VecDeque<T>>, n: usize, dest: &Worker<T>) -> Steal<T> {
            let mut got: VecDeque<T> = {
                let mut q = q.lock().unwrap();
                let n = n.min(q.len());
                q.drain(..n).collect()
            };
            match got.pop_front() {
                None => Steal::Empty,
                Some(first) => {
                    for t in got {
                        dest.push(t);
                    }
                    Steal::Success(first)
                }
            }
        }

        impl<T> Stealer<T> {
            pub(crate) fn steal_batch_with_limit_and_pop(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<T> {
                // About half, as crossbeam's.
                let half = self.0.lock().unwrap().len().div_ceil(2);
                batch(&self.0, half.min(limit), dest)
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().unwrap().len()
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.lock().unwrap().is_empty()
            }
        }

        impl<T> Injector<T> {
            pub(crate) fn new() -> Injector<T> {
                Injector(Mutex::new(VecDeque::new()))
            }
            pub(crate) fn push(&self, t: T) {
                self.0.lock().unwrap().push_back(t);
            }
            pub(crate) fn steal(&self) -> Steal<T> {
                match self.0.lock().unwrap().pop_front() {
                    Some(t) => Steal::Success(t),
                    None => Steal::Empty,
                }
            }
            pub(crate) fn steal_batch_with_limit_and_pop(
                &self,
                dest: &Worker<T>,
                limit: usize,
            ) -> Steal<T> {
                batch(&self.0, limit, dest)
            }
            pub(crate) fn len(&self) -> usize {
                self.0.lock().unwrap().len()
            }
            pub(crate) fn is_empty(&self) -> bool {
                self.0.lock().unwrap().is_empty()
            }
        }
    }
}

/// The Ms' threads: loom's under `--cfg loom`, so that a model runs the
/// real scheduler loop on model threads (`loom_tests/loom_sched.rs`).
pub(crate) mod thread {
    #[cfg(loom)]
    pub(crate) use loom::thread::{Builder, JoinHandle};
    #[cfg(not(loom))]
    pub(crate) use std::thread::{Builder, JoinHandle};
}

/// `thread_local!` whose value is per model thread under loom. Loom runs
/// its threads as coroutines on one OS thread, so a `std` thread-local
/// would be shared by every M of a model; loom's is not. Elsewhere it is
/// `std`'s, with a `const` initializer.
macro_rules! model_thread_local {
    ($(#[$m:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(loom)]
        loom::thread_local! { $(#[$m])* static $name: $t = $init; }
        #[cfg(not(loom))]
        std::thread_local! { $(#[$m])* static $name: $t = const { $init }; }
    };
}
pub(crate) use model_thread_local;

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
