//! [`after_func`]: a callback that runs when a context is done (Go's
//! `context.AfterFunc`).
//!
//! The callback sits in its anchor's hooks. The anchor's cancel
//! takes the hooks under its lock and starts every callback, each in a task
//! of its own; [`AfterFuncStop::stop`] removes it under the same lock. So
//! exactly one of the two gets the callback, and `stop` never waits for it.

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use gort_core::Handle;

use super::cancel::{CancelCtx, Hook};
use super::Context;
use crate::loom::AtomicBool;

/// A callback waiting in a context's hooks, with the runtime it
/// should run on.
pub(super) struct AfterFn {
    f: Box<dyn FnOnce() + Send>,
    handle: Option<Handle>,
}

impl AfterFn {
    /// Runs the callback in a task of its own (Go: `go f()`): on the runtime
    /// that registered it, else the current one, else a new thread.
    pub(super) fn start(self) {
        let AfterFn { f, handle } = self;
        match handle.or_else(Handle::try_current) {
            Some(h) => drop(h.spawn(async move { f() })),
            None => drop(std::thread::spawn(f)),
        }
    }
}

/// Stops an [`after_func`] callback from running.
pub struct AfterFuncStop {
    /// The anchor node and the callback's key there; `None` if the callback
    /// was never registered (never-done context) or started at once.
    registered: Option<(Arc<CancelCtx>, usize)>,
    /// For `registered == None`: whether `stop` prevents anything.
    never_runs: bool,
    /// Set by the first `stop`: the key may be reused after that.
    stopped: AtomicBool,
}

impl AfterFuncStop {
    /// Prevents the callback from running; `true` if it did, `false` if
    /// the callback has already been started (or stopped). Never waits for
    /// a running callback (Go's `stop()`).
    pub fn stop(&self) -> bool {
        // Relaxed: the flag only guards against reusing `key`; the slab's
        // lock orders the removal itself.
        if self.stopped.swap(true, Relaxed) {
            return false;
        }
        match &self.registered {
            Some((node, key)) => matches!(node.remove_hook(*key), Some(Hook::After(_))),
            None => self.never_runs,
        }
    }
}

impl fmt::Debug for AfterFuncStop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFuncStop")
            .field("registered", &self.registered.is_some())
            .finish()
    }
}

/// Runs `f` in a task of its own once `ctx` is done — at once if it is
/// already (Go's `context.AfterFunc`). The returned handle's
/// [`stop`](AfterFuncStop::stop) un-registers it.
///
/// `f` runs on the gort runtime that was current when `after_func` was
/// called (or the one current where `ctx` is cancelled; failing both, on a
/// new thread). For a context that can never be done, `f` never runs.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use gort_sync::context;
///
/// let (ctx, cancel) = context::with_cancel(&context::background());
/// let (tx, rx) = mpsc::channel();
/// let stop = context::after_func(&ctx, move || tx.send("cleaned up").unwrap());
/// cancel.cancel();
/// assert_eq!(rx.recv().unwrap(), "cleaned up");
/// assert!(!stop.stop()); // too late: it ran
/// ```
pub fn after_func(ctx: &Context, f: impl FnOnce() + Send + 'static) -> AfterFuncStop {
    let Some(anchor) = ctx.anchor() else {
        return AfterFuncStop {
            registered: None,
            never_runs: true,
            stopped: AtomicBool::new(false),
        };
    };
    let callback = AfterFn {
        f: Box::new(f),
        handle: Handle::try_current(),
    };
    match anchor.add_hook(Hook::After(callback)) {
        Ok(key) => AfterFuncStop {
            registered: Some((anchor.clone(), key)),
            never_runs: false,
            stopped: AtomicBool::new(false),
        },
        Err(hook) => {
            // Already done: start it now.
            if let Hook::After(callback) = hook {
                callback.start();
            }
            AfterFuncStop {
                registered: None,
                never_runs: false,
                stopped: AtomicBool::new(false),
            }
        }
    }
}
