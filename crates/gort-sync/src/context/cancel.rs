//! A cancellable node (Go's `cancelCtx` and `timerCtx`): its state, how a
//! child joins it, how cancellation spreads, and how a dropped child
//! leaves.
//!
//! # Protocol
//!
//! - `err` is written once, `0 → code`, under `state`'s lock; readers load
//!   it without the lock. Whoever writes it owns the cancellation: it takes
//!   the children, waiters, callbacks and timer out of `state` in the same
//!   critical section, so nothing registered before is missed, and
//!   everything that registers after sees `err` set under the lock and does
//!   not register.
//! - A child joins its anchor under the anchor's lock, after checking the
//!   anchor's `err` under that same lock: either the anchor's cancellation
//!   will find the child in `children`, or the child sees the error and is
//!   born done. The child is built inside that critical section, so the
//!   weak pointer in the slab can always be upgraded once the lock is
//!   released (unless the child is already being dropped, which is fine).
//! - A child's key in the anchor's `hooks` is removed at most once, by the child: when it
//!   cancels itself (only the call that writes `err` does it) or when it is
//!   dropped still live. A child cancelled by its anchor needs no removal:
//!   the anchor took all its hooks, and a done anchor never adds one again,
//!   so a stale key can never hit a newer hook. The same holds for the keys
//!   of `done()` waiters and `after_func` callbacks.

use gort_core::task::{park_waker, same_waker};
use std::sync::{Arc, Weak};
use std::task::Waker;
use std::time::Instant;

use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};

use super::after::AfterFn;
use super::error::{Cause, Error};
use super::slab::Slab;
use super::timer::DeadlineTimer;
use super::Context;
use crate::loom::{lock, AtomicUsize, Mutex};

const LIVE: usize = 0;

pub(super) struct CancelCtx {
    pub(super) parent: Context,
    /// This node's key in its anchor's `hooks`, if it joined one.
    key: usize,
    /// Its own deadline, already earlier than any ancestor's.
    pub(super) deadline: Option<Instant>,
    /// `LIVE`, or the code of the [`Error`] it was cancelled with.
    err: AtomicUsize,
    state: Mutex<State>,
}

#[derive(Default)]
pub(super) struct State {
    /// The cause given with the cancel; `None` for "the error itself".
    cause: Option<Cause>,
    /// Everything to do when this node is cancelled, in one slab (one key
    /// space, one allocation).
    hooks: Slab<Hook>,
    timer: Option<Arc<DeadlineTimer>>,
}

/// One thing a cancel must do.
pub(super) enum Hook {
    /// Cancel a child anchored here (weak: a dropped child just leaves).
    Child(Weak<CancelCtx>),
    /// Wake a task waiting in `done()`.
    Waiter(Waker),
    /// Start an `after_func` callback.
    After(AfterFn),
}

/// A new cancellable child of `parent`, joined to `parent`'s anchor (or
/// born done if the anchor is).
pub(super) fn new_child(parent: &Context, deadline: Option<Instant>) -> Arc<CancelCtx> {
    let make = |key| CancelCtx {
        parent: parent.clone(),
        key,
        deadline,
        err: AtomicUsize::new(LIVE),
        state: Mutex::new(State::default()),
    };
    let Some(anchor) = parent.anchor() else {
        // Under a context that is never cancelled: nothing to join.
        return Arc::new(make(0));
    };
    let mut s = lock(&anchor.state);
    if let Some(err) = anchor.err() {
        let cause = s.cause.clone();
        drop(s);
        let node = Arc::new(make(0));
        node.cancel(false, err, cause);
        return node;
    }
    // Built under the anchor's lock: see the module doc.
    Arc::new_cyclic(|weak| make(s.hooks.insert(Hook::Child(weak.clone()))))
}

impl CancelCtx {
    pub(super) fn err(&self) -> Option<Error> {
        // Acquire: pairs with the Release in `cancel_one`, so a reader that
        // sees the error also sees the cause written before it.
        Error::from_code(self.err.load(Acquire))
    }

    pub(super) fn cause(&self) -> Option<Cause> {
        let err = self.err()?;
        // No cause given: the error is the cause (Go's `Cause`), made only
        // when asked for, so a plain cancel allocates nothing.
        Some(
            lock(&self.state)
                .cause
                .clone()
                .unwrap_or_else(|| Arc::new(err)),
        )
    }

    /// Cancels this node and then every descendant. `detach`: this node
    /// cancels itself (not through its anchor), so it leaves the anchor.
    pub(super) fn cancel(&self, detach: bool, err: Error, cause: Option<Cause>) {
        let Some(children) = self.cancel_one(err, &cause) else {
            return;
        };
        if detach {
            self.leave_anchor();
        }
        // Descendants get the same error and cause (Go: `child.cancel(false,
        // err, cause)`), iteratively rather than recursively.
        let mut stack = children;
        while let Some(weak) = stack.pop() {
            let Some(child) = weak.upgrade() else {
                continue; // being dropped: it has nothing left to wake
            };
            if let Some(more) = child.cancel_one(err, &cause) {
                stack.extend(more);
            }
        }
    }

    /// Marks this node done and runs its hooks; returns its children, or
    /// `None` if it was done already.
    fn cancel_one(&self, err: Error, cause: &Option<Cause>) -> Option<Vec<Weak<CancelCtx>>> {
        let (hooks, timer) = {
            let mut s = lock(&self.state);
            // Relaxed: `err` is only written under this lock.
            if self.err.load(Relaxed) != LIVE {
                return None;
            }
            s.cause.clone_from(cause);
            // Release: `err()` readers outside the lock see the cause too.
            self.err.store(err.code(), Release);
            (s.hooks.take_all(), s.timer.take())
        };
        // Outside the lock: wakers and callbacks may run arbitrary code,
        // including code that touches this context.
        let mut children = Vec::new();
        for hook in hooks {
            match hook {
                Hook::Child(c) => children.push(c),
                Hook::Waiter(w) => w.wake(),
                Hook::After(f) => f.start(),
            }
        }
        if let Some(t) = timer {
            t.disarm();
        }
        Some(children)
    }

    /// Removes this node from its anchor's hooks.
    fn leave_anchor(&self) {
        if let Some(anchor) = self.parent.anchor() {
            lock(&anchor.state).hooks.remove(self.key);
        }
    }

    /// `Done`'s poll: true once done; otherwise (re)registers `waker` in
    /// `slot`.
    pub(super) fn poll_done(&self, slot: &mut Option<usize>, waker: &Waker) -> bool {
        if self.err().is_some() {
            return true;
        }
        let mut s = lock(&self.state);
        if self.err.load(Relaxed) != LIVE {
            // The cancel took the hooks: the slot is gone already.
            *slot = None;
            return true;
        }
        match slot.and_then(|k| s.hooks.get_mut(k)) {
            Some(Hook::Waiter(w)) => {
                if !same_waker(w, waker) {
                    *w = park_waker(waker);
                }
            }
            _ => *slot = Some(s.hooks.insert(Hook::Waiter(park_waker(waker)))),
        }
        false
    }

    /// Removes a hook by key, if this node is still live; returns it.
    /// Once done, the hooks were taken and never refill, so a key may
    /// belong to nobody: it is left alone.
    pub(super) fn remove_hook(&self, key: usize) -> Option<Hook> {
        self.with_live_state(|s| s.hooks.remove(key)).flatten()
    }

    /// Adds a hook, if this node is still live; returns its key.
    pub(super) fn add_hook(&self, hook: Hook) -> Result<usize, Hook> {
        let mut s = lock(&self.state);
        if self.err.load(Relaxed) != LIVE {
            return Err(hook);
        }
        Ok(s.hooks.insert(hook))
    }

    /// Runs `f` under the state lock, if this node is still live.
    fn with_live_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> Option<R> {
        let mut s = lock(&self.state);
        if self.err.load(Relaxed) != LIVE {
            return None;
        }
        Some(f(&mut s))
    }

    /// Installs the deadline timer; `false` (and the timer is not kept) if
    /// the node is already done.
    pub(super) fn set_timer(&self, timer: Arc<DeadlineTimer>) -> bool {
        self.with_live_state(|s| s.timer = Some(timer)).is_some()
    }

    /// (children, waiters, callbacks) registered here.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize, usize) {
        let s = lock(&self.state);
        let mut n = (0, 0, 0);
        for h in s.hooks.iter() {
            match h {
                Hook::Child(_) => n.0 += 1,
                Hook::Waiter(_) => n.1 += 1,
                Hook::After(_) => n.2 += 1,
            }
        }
        n
    }
}

impl Drop for CancelCtx {
    fn drop(&mut self) {
        // Relaxed: we hold the last reference, nobody writes `err` now.
        if self.err.load(Relaxed) == LIVE {
            self.leave_anchor();
        }
        #[cfg(not(loom))]
        let timer = self
            .state
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .timer
            .take();
        #[cfg(loom)]
        let timer = lock(&self.state).timer.take();
        if let Some(t) = timer {
            t.disarm();
        }
    }
}
