//! One pending timer, shared between the future that waits on it and the
//! heap it sits in.
//!
//! `state` goes `PENDING -> FIRED` (the heap, when the deadline passes) or
//! `PENDING -> CANCELLED` (the future, when dropped or reset), exactly once,
//! by CAS; whoever wins decides. The waker is an `AtomicWaker`, whose own
//! protocol makes a registration racing a `fire` never lose the wake-up: the
//! future registers, then re-checks `state`.
//!
//! Below the scheduler: it imports the clock and the tasks' parked wakers
//! (`task::park_waker`), nothing above.

use std::task::Waker;

use crate::loom::{AtomicU32, AtomicWaker, Ordering::*};

const PENDING: u32 = 0;
const FIRED: u32 = 1;
const CANCELLED: u32 = 2;

pub(crate) struct TimerEntry {
    state: AtomicU32,
    waker: AtomicWaker,
}

impl TimerEntry {
    pub(crate) fn new() -> TimerEntry {
        TimerEntry {
            state: AtomicU32::new(PENDING),
            waker: AtomicWaker::new(),
        }
    }

    /// Makes a stopped entry that nobody else holds (`&mut`) pending again,
    /// for `TimerQueue::arm`. Returns its old waker, for the caller to drop
    /// once it has let go of the queue's lock: the last waker of a task
    /// frees the task's cell, whose join waker may be any executor's.
    #[must_use = "the old waker is to be dropped outside the queue's lock"]
    pub(crate) fn reset(&mut self) -> Option<Waker> {
        // Relaxed: `&mut self` means no other thread can see the entry;
        // handing it to one again goes through the queue's mutex.
        self.state.store(PENDING, Relaxed);
        self.waker.take()
    }

    /// Registers the waker to wake when the timer fires. While a synctest
    /// bubble lives in the process it is a parked waker (`park_waker`): a
    /// task asleep on a timer is durably blocked (`sched::bubble`). The
    /// deadlock detector needs no such accounting (a pending timer is a way
    /// out already), so outside bubbles the plain clone is kept, one
    /// reference count cheaper.
    pub(crate) fn register(&self, w: &Waker) {
        if super::clock::bubbles_exist() {
            self.waker.register(&crate::task::park_waker(w));
        } else {
            self.waker.register(w);
        }
    }

    /// Acquire: pairs with the AcqRel CAS in `fire`.
    pub(crate) fn is_fired(&self) -> bool {
        self.state.load(Acquire) == FIRED
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.state.load(Relaxed) == CANCELLED
    }

    /// The heap's side: marks the entry fired and hands back the waker.
    pub(crate) fn fire(&self) -> Option<Waker> {
        match self.state.compare_exchange(PENDING, FIRED, AcqRel, Relaxed) {
            Ok(_) => self.waker.take(),
            Err(_) => None,
        }
    }

    /// Drops the registered waker (at shutdown).
    pub(crate) fn take_waker(&self) -> Option<Waker> {
        self.waker.take()
    }

    /// The future's side: stops the timer if it has not fired. Returns true
    /// if this call stopped it.
    pub(crate) fn cancel(&self) -> bool {
        self.state
            .compare_exchange(PENDING, CANCELLED, AcqRel, Relaxed)
            .is_ok()
    }
}
