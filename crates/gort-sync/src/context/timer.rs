//! The deadline of a [`with_deadline`](super::with_deadline) context: one
//! runtime timer whose waker cancels the node.
//!
//! The timer holds the waker, the waker holds the `Sleep` (so the timer
//! stays armed without a task polling it) and only a weak pointer to the
//! node, so an armed deadline never keeps a context alive. Cancelling or
//! dropping the node disarms: it takes the `Sleep` out and drops it, which
//! removes the timer and, with it, the waker. A fire and a disarm race on
//! the `sleep` slot; whoever takes the `Sleep` decides.

use std::sync::{Arc, Mutex, Weak};
use std::task::{Context as TaskContext, Wake, Waker};
use std::time::Instant;

use gort_core::time::Sleep;

use super::cancel::CancelCtx;
use super::error::{Cause, Error};

pub(super) struct DeadlineTimer {
    target: Weak<CancelCtx>,
    cause: Option<Cause>,
    sleep: Mutex<Option<Sleep>>,
}

impl DeadlineTimer {
    fn take_sleep(&self) -> Option<Sleep> {
        self.sleep.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// Stops the timer (if it has not fired).
    pub(super) fn disarm(&self) {
        drop(self.take_sleep());
    }
}

impl Wake for DeadlineTimer {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.take_sleep().is_none() {
            return; // disarmed first
        }
        if let Some(node) = self.target.upgrade() {
            node.cancel(true, Error::DeadlineExceeded, self.cause.clone());
        }
    }
}

/// Arms `node`'s deadline, or cancels it at once if `deadline` has passed.
///
/// # Panics
///
/// For a future deadline outside a gort runtime.
pub(super) fn arm(node: &Arc<CancelCtx>, deadline: Instant, cause: Option<Cause>) {
    let c = node;
    if c.err().is_some() {
        return; // born done under a done parent
    }
    if deadline <= gort_core::time::now() {
        c.cancel(true, Error::DeadlineExceeded, cause);
        return;
    }
    assert!(
        gort_core::Handle::try_current().is_some(),
        "context: a deadline in the future needs a gort runtime's timers (call with_deadline/with_timeout inside one)"
    );
    let timer = Arc::new(DeadlineTimer {
        target: Arc::downgrade(node),
        cause,
        sleep: Mutex::new(None),
    });
    let waker = Waker::from(timer.clone());
    {
        // Hold the slot while registering, so a fire on another M finds the
        // `Sleep` (`poll_elapsed` never wakes on this thread).
        let mut slot = timer.sleep.lock().unwrap_or_else(|e| e.into_inner());
        let mut sleep = gort_core::time::sleep_until(deadline);
        if sleep
            .poll_elapsed(&mut TaskContext::from_waker(&waker))
            .is_ready()
        {
            drop(slot);
            c.cancel(true, Error::DeadlineExceeded, timer.cause.clone());
            return;
        }
        *slot = Some(sleep);
    }
    if !c.set_timer(timer.clone()) {
        // Cancelled meanwhile (by the parent, or by this very timer).
        timer.disarm();
    }
}
