//! The `block_on` future's record: Go's goroutine 1, here `goroutine 0`.
//!
//! A thread in `block_on` polls its future itself and parks between polls.
//! [`MainTask`] is what its wakers point at (`waker.rs`): a flag, so that a
//! wake-up between a poll and the park is not lost (`Thread::park` has token
//! semantics as well; the flag also filters spurious wake-ups), the count of
//! its wakers parked in gort's waiting structures (for the deadlock
//! detector), and what the dump shows of it: where `block_on` was called
//! and why its future waits.

use std::panic::Location;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::thread::Thread;
use std::time::Instant;

use super::WaitReason;

/// One thread in `block_on` (module doc).
#[derive(Debug)]
pub(crate) struct MainTask {
    thread: Thread,
    /// The wake-up flag (module doc): loom's under `--cfg loom`, being the
    /// half of the hand-shake a model can see (the park itself is the OS
    /// thread's).
    notified: crate::loom::AtomicBool,
    /// Wakers of this future parked in gort's waiting structures
    /// (`task::park_waker`). Relaxed: read by the deadlock detector, which
    /// confirms what it sees twice. A std atomic even under loom: a count
    /// for a detector the models do not run.
    pub(crate) parked: AtomicUsize,
    /// As `Header::wait_reason` (`current.rs`). Relaxed: diagnostic; a std
    /// atomic even under loom, as that one.
    pub(crate) wait_reason: AtomicU64,
    /// Where `block_on` was called.
    pub(crate) location: &'static Location<'static>,
}

impl MainTask {
    /// The record of the calling thread's `block_on`, called at `location`.
    pub(crate) fn new(location: &'static Location<'static>) -> MainTask {
        MainTask {
            thread: std::thread::current(),
            notified: crate::loom::AtomicBool::new(false),
            parked: AtomicUsize::new(0),
            wait_reason: AtomicU64::new(0),
            location,
        }
    }

    /// Marks the future woken and unparks its thread.
    pub(crate) fn wake(&self) {
        // Release: pairs with the Acquire in `take_notified`, so what the
        // waker wrote before waking is visible to the next poll.
        if !self.notified.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }

    /// Consumes a wake-up, if one came.
    pub(crate) fn take_notified(&self) -> bool {
        // Acquire: pairs with the Release in `wake`.
        self.notified.swap(false, Ordering::Acquire)
    }

    /// Whether a wake-up came and is not consumed yet (a synctest
    /// monitor's park, which also wakes for other reasons).
    pub(crate) fn is_notified(&self) -> bool {
        self.notified.load(Ordering::Relaxed)
    }

    /// Parks until woken (the flag consumed).
    pub(crate) fn park(&self) {
        while !self.take_notified() {
            std::thread::park();
        }
    }

    /// Parks until woken or `deadline`; true if woken (the flag consumed).
    pub(crate) fn park_until(&self, deadline: Instant) -> bool {
        loop {
            if self.take_notified() {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::park_timeout(deadline - now);
        }
    }

    /// The wait reason and the coarse time (ms) it was set at.
    pub(crate) fn wait_reason(&self) -> (WaitReason, u64) {
        super::current::decode(self.wait_reason.load(Ordering::Relaxed))
    }
}
