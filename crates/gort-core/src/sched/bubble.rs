//! A synctest bubble (Go 1.25's `testing/synctest`): a runtime whose clock
//! is virtual and jumps to the next timer once every task is durably
//! blocked.
//!
//! # The bubble is a runtime
//!
//! Go marks goroutines as members of a bubble and counts, per bubble, how
//! many are durably blocked. Here a bubble is a whole runtime built with
//! `Builder::__synctest` (what `synctest::run` and `#[gort::test(synctest)]`
//! build): every task spawned inside it is its task, its timers are its
//! timers, and two bubbles in one test binary share nothing, as two
//! runtimes share nothing. Its clock ([`VirtualClock`]) is read through
//! `Shared::now` by the scheduler and through `gort::time::now` by the
//! futures (`time::clock`'s header: no cost outside a bubble).
//!
//! # Durably blocked
//!
//! A task is durably blocked when only another task of the bubble can wake
//! it: exactly the deadlock detector's condition 4 (`deadlock.rs`), that
//! every reference to it is gort's own and every waker of it sits parked
//! in a gort waiting structure (channels, select, WaitGroup, the locks,
//! Once, Cond, context done, a join slot, and in a bubble the timers,
//! whose entries then hold parked wakers: `time::entry`). A task waiting on
//! I/O, on a `spawn_blocking` job or on a foreign future holds a waker gort
//! cannot account for, so it is not, and while it waits the clock stands
//! still, as in Go. The whole bubble is durably blocked when the detector's
//! check passes with pending timers and idle I/O sources left out
//! ([`Except::TimersAndIdleSources`]).
//!
//! # The monitor
//!
//! The thread in `block_on` is the bubble's monitor (`block_on.rs`,
//! `bubble_loop`). It takes one [`Bubble::step`] after each poll of its
//! future that returns pending, whenever an M kicks it, and at least every
//! `deadlock::CHECK` (a safety net for the wake-ups nobody signals, such
//! as a foreign waker dropped unused). An M kicks it ([`Bubble::kick`])
//! as it is about to block with every P idle: that is the moment the
//! bubble may have become durably blocked. A step:
//!
//! 1. reads the activity counter, checks, reads it again (SeqCst fences
//!    between): only a check that no poll, park or unpark overlapped
//!    counts, so a state caught in passing never moves the clock;
//! 2. if a task waits in `synctest::wait`, wakes it (Go gives `Wait` the
//!    same priority over the clock);
//! 3. else if a timer is pending, moves the clock to the earliest deadline
//!    and fires every P's due timers itself; their tasks go to the global
//!    queue, and the `wakep` of that push starts an M;
//! 4. else reports the bubble stuck, which `block_on` turns into the
//!    deadlock panic when a second step a `CHECK` later sees the same
//!    activity (the detector's rule).
//!
//! Durable blocking is stable: once every task is durably blocked and no
//! party outside exists (the check's conditions 1–3), nothing but the
//! monitor can act, so what step 1 saw still holds when steps 2–3 act.

use std::sync::Arc;
use std::task::Waker;
use std::thread::Thread;

use super::deadlock::{self, Except};
use super::Shared;
use crate::loom::{fence, lock, AtomicBool, Mutex, Ordering::*};
use crate::task::MainTask;
use crate::time::{clock::VirtualClock, queue::NO_TIMER};

/// A bubble's clock and monitor (module doc).
pub(crate) struct Bubble {
    pub(crate) clock: VirtualClock,
    /// Set by an M for the monitor to take a step.
    kicked: AtomicBool,
    /// The thread in `block_on`, while one is.
    monitor: Mutex<Option<Thread>>,
    /// The task in `synctest::wait`: its registration and its waker,
    /// parked (`task::park_waker`).
    waiter: Mutex<Option<(u64, Waker)>>,
    /// The last registration given out.
    next_waiter: Mutex<u64>,
}

/// What a [`Bubble::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Some task is not durably blocked (or the check overlapped activity).
    Busy,
    /// Woke the task in `synctest::wait`.
    Released,
    /// Moved the clock to the next timer and fired it.
    Advanced,
    /// Every task is durably blocked and no timer is pending: a deadlock,
    /// once confirmed; the activity the check saw.
    Stuck(u64),
}

impl Bubble {
    pub(crate) fn new() -> Bubble {
        Bubble {
            clock: VirtualClock::new(),
            kicked: AtomicBool::new(false),
            monitor: Mutex::new(None),
            waiter: Mutex::new(None),
            next_waiter: Mutex::new(0),
        }
    }

    /// Makes the calling thread the monitor (`None`: no monitor).
    pub(crate) fn set_monitor(&self, t: Option<Thread>) {
        *lock(&self.monitor) = t;
    }

    /// Asks the monitor for a step.
    pub(crate) fn kick(&self) {
        // Release: pairs with the Acquire swap in `take_kick`, so the
        // monitor's step sees what the kicking M did before it.
        if !self.kicked.swap(true, Release) {
            if let Some(t) = lock(&self.monitor).as_ref() {
                t.unpark();
            }
        }
    }

    /// Consumes a kick, if one came.
    pub(crate) fn take_kick(&self) -> bool {
        self.kicked.swap(false, Acquire)
    }

    /// A poll of `synctest::wait` by the waiter registered as `id` (`None`:
    /// not registered yet), with waker `w`: `Ok(Some(id))` while it waits
    /// (registered now, or its waker updated), `Ok(None)` once a step has
    /// released it, `Err(())` if another waiter is registered (Go panics
    /// then too). The slot holds a parked waker, so the waiter counts as
    /// durably blocked.
    pub(crate) fn poll_wait(&self, id: Option<u64>, w: &Waker) -> Result<Option<u64>, ()> {
        let mut old = None;
        let out = {
            let mut slot = lock(&self.waiter);
            match (id, &mut *slot) {
                (Some(id), Some((sid, held))) if *sid == id => {
                    if !crate::task::same_waker(held, w) {
                        old = Some(std::mem::replace(held, crate::task::park_waker(w)));
                    }
                    Ok(Some(id))
                }
                (Some(_), _) => Ok(None),
                (None, Some(_)) => Err(()),
                (None, None) => {
                    let mut next = lock(&self.next_waiter);
                    *next += 1;
                    *slot = Some((*next, crate::task::park_waker(w)));
                    Ok(Some(*next))
                }
            }
        };
        drop(old);
        out
    }

    /// Withdraws the waiter `id` (a dropped `wait`).
    pub(crate) fn cancel_wait(&self, id: u64) {
        let old = {
            let mut slot = lock(&self.waiter);
            match &*slot {
                Some((sid, _)) if *sid == id => slot.take(),
                _ => None,
            }
        };
        drop(old);
    }

    /// Wakes the task in `synctest::wait`, if one waits; its next poll
    /// finds the slot empty and returns. Returns whether one waited.
    pub(crate) fn release_waiter(&self) -> bool {
        let waiter = lock(&self.waiter).take();
        match waiter {
            Some((_, w)) => {
                w.wake();
                true
            }
            None => false,
        }
    }

    /// One step of the monitor (module doc). `main` is the `block_on`
    /// future, `None` once it has returned.
    pub(crate) fn step(&self, shared: &Arc<Shared>, main: Option<&Arc<MainTask>>) -> Step {
        let before = deadlock::activity(shared);
        fence(SeqCst);
        let Some(seen) = deadlock::quiescent_but(shared, main, Except::TimersAndIdleSources) else {
            return Step::Busy;
        };
        fence(SeqCst);
        if seen != before || deadlock::activity(shared) != before {
            return Step::Busy;
        }
        if self.release_waiter() {
            tracing::trace!("synctest: every other task is durably blocked; wait returns");
            return Step::Released;
        }
        let when = shared.earliest_timer();
        if when == NO_TIMER {
            return Step::Stuck(before);
        }
        self.clock.advance_to(when);
        tracing::trace!(
            offset_ns = when.saturating_sub(self.clock.start),
            "synctest: every task is durably blocked; the clock jumps"
        );
        let now = self.clock.now();
        for p in shared.allp.iter() {
            p.timers.run(now);
        }
        Step::Advanced
    }
}

impl Shared {
    /// An M about to block: if this is a bubble and every P is idle, the
    /// bubble may be durably blocked; the monitor takes a step.
    #[inline]
    pub(crate) fn bubble_idle(&self) {
        if let Some(b) = &self.bubble {
            if self.idle.all_idle(self.allp.len()) {
                b.kick();
            }
        }
    }
}
