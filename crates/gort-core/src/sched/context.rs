//! Which runtime, M and P the current thread belongs to.
//!
//! Two thread-locals, both documented entry points rather than hidden state
//! (this file and `worker/mod.rs` import each other: the M sets `WORKER` to its
//! own record, which the rest of the scheduler reaches through here):
//!
//! - `HANDLE`: the runtime entered by this thread (an M, or a thread inside
//!   `block_on`, or one that called `Handle::enter`). `gort::spawn`,
//!   `Handle::current` and the timers read it.
//! - `WORKER`: set only on an M, pointing at its [`Worker`] record, through
//!   which the scheduler finds the P this M holds. A wake-up on an M that
//!   holds a P of the same runtime goes to that P (`runnext`), everything else
//!   to the global queue.

use std::cell::{Cell, RefCell};

use super::handle::Handle;
use super::worker::Worker;

crate::loom::model_thread_local! {
    static HANDLE: RefCell<Option<Handle>> = RefCell::new(None);
}
crate::loom::model_thread_local! {
    static WORKER: Cell<*const Worker> = Cell::new(std::ptr::null());
}

/// The runtime this thread has entered, if any.
pub(crate) fn try_current() -> Option<Handle> {
    HANDLE.try_with(|h| h.borrow().clone()).ok().flatten()
}

/// Runs `f` with the current handle without cloning it.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Handle>) -> R) -> R {
    HANDLE.with(|h| f(h.borrow().as_ref()))
}

/// Restores the previous handle when dropped.
#[derive(Debug)]
pub(crate) struct EnterGuard {
    prev: Option<Handle>,
}

/// Makes `handle` the current runtime of this thread until the guard drops.
pub(crate) fn enter(handle: Handle) -> EnterGuard {
    let prev = HANDLE.with(|h| h.borrow_mut().replace(handle));
    EnterGuard { prev }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        // try_with: the guard may drop during thread-local destruction.
        let _ = HANDLE.try_with(|h| *h.borrow_mut() = prev);
    }
}

/// Runs `f` with this thread's worker record, if it is an M.
#[inline]
pub(crate) fn with_worker<R>(f: impl FnOnce(Option<&Worker>) -> R) -> R {
    let ptr = WORKER.try_with(|w| w.get()).unwrap_or(std::ptr::null());
    // SAFETY: WORKER is set by `set_worker` for exactly the lifetime of the
    // M's main loop, which owns the Worker and outlives every call made on
    // its thread while the pointer is set.
    f(unsafe { ptr.as_ref() })
}

/// Marks this thread as the M `w` for as long as the guard lives.
pub(crate) fn set_worker(w: &Worker) -> WorkerGuard {
    WORKER.with(|c| c.set(w as *const Worker));
    WorkerGuard(())
}

/// Clears the worker pointer on drop.
pub(crate) struct WorkerGuard(());

impl Drop for WorkerGuard {
    fn drop(&mut self) {
        let _ = WORKER.try_with(|c| c.set(std::ptr::null()));
    }
}
