//! The task state word: one `AtomicU64` per task that holds its lifecycle
//! bits, its reference count, and how many of those references are wakers
//! parked in gort's own waiting structures.
//!
//! ```text
//!  63 ......... 40   39 ............ 6   5          4              3           2          1          0
//! [ parked wakers |  reference count   | JOIN_WAKER | JOIN_INTEREST | CANCELLED | COMPLETE | NOTIFIED | RUNNING ]
//! ```
//!
//! The parked count is what lets the deadlock detector tell gort's waiters
//! from everybody else's (`sched/deadlock.rs`): a waker made by
//! `task::park_waker` for a channel queue, a timer or a WaitGroup counts
//! both a reference and a parked one, in one `fetch_add`; any reference
//! beyond the owned list's, the join handle's and the parked ones is held
//! by someone gort does not know, who may wake the task.
//!
//! Invariants (checked with `debug_assert!` at each transition):
//!
//! 1. `RUNNING` is held by at most one thread, the one polling (or
//!    cancelling) the future; only that thread touches the future.
//! 2. `NOTIFIED` set and `RUNNING` clear means exactly one `Notified`
//!    reference sits in some run queue (or is about to be pushed there).
//! 3. `COMPLETE` is set once and never cleared; after it, the future is gone
//!    and the stage holds the output (or nothing, once taken).
//! 4. The join waker slot is written only by the `JoinHandle` while
//!    `JOIN_WAKER` and `COMPLETE` are both clear, and read by the completing
//!    thread only after it set `COMPLETE` while `JOIN_WAKER` was set.
//! 5. Every `Notified`, `Waker`, `JoinHandle` and the owned-list entry hold one
//!    reference each; the last one to go frees the cell.
//! 6. The parked count never exceeds the reference count: it counts those
//!    references that are parked wakers (`raw.rs`, `PARKED_WAKER`).
//! 7. The scheduler handle lives in the cell, and the reference handed to
//!    a queue may be its last: once a `Notified` is published, another
//!    thread may run the task to completion and free the cell. So nothing
//!    reads the cell after publishing it: `Schedule::schedule` gets a raw
//!    pointer to the handle (no reference into the cell outlives the push)
//!    and reads it only before the push, acting after it through a handle
//!    of its own (`sched/mod.rs`: the M's, or a clone); a poll that hands
//!    its task back leaves the requeue to its caller.
//!
//! The protocol follows tokio's `runtime/task/state.rs` in shape (snapshots in
//! a newtype, `#[must_use]` transitions); the names of the transitions are
//! gort's.

use crate::loom::{AtomicU64, Ordering::*};

/// The future is being polled (or cancelled) by some thread.
const RUNNING: u64 = 1 << 0;
/// The task is scheduled: a reference to it is (or is being put) in a queue.
const NOTIFIED: u64 = 1 << 1;
/// The future has finished; the stage holds its output or nothing.
const COMPLETE: u64 = 1 << 2;
/// `abort` (or runtime shutdown) asked for the future to be dropped.
const CANCELLED: u64 = 1 << 3;
/// A `JoinHandle` exists and wants the output.
const JOIN_INTEREST: u64 = 1 << 4;
/// The `JoinHandle` has stored a waker in the join waker slot.
const JOIN_WAKER: u64 = 1 << 5;
const STATE_MASK: u64 = (1 << 6) - 1;
/// One reference in the count.
const REF_ONE: u64 = 1 << 6;
/// Where the parked count starts; the reference count is the 34 bits below.
const PARKED_SHIFT: u32 = 40;
const REF_MASK: u64 = (1 << PARKED_SHIFT) - REF_ONE;
/// One parked waker (which is also one reference: added with `REF_ONE`).
const PARKED_ONE: u64 = 1 << PARKED_SHIFT;
/// Past this many parked wakers a new one is made unparked (a plain
/// clone): the count must not overflow into nothing, and an unparked waker
/// only makes the detector more careful.
const PARKED_LIMIT: u64 = 1 << 23;

/// A copy of the state word taken at one instant.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Snapshot(u64);

impl Snapshot {
    pub(crate) fn is_running(self) -> bool {
        self.0 & RUNNING != 0
    }
    pub(crate) fn is_notified(self) -> bool {
        self.0 & NOTIFIED != 0
    }
    pub(crate) fn is_complete(self) -> bool {
        self.0 & COMPLETE != 0
    }
    pub(crate) fn is_cancelled(self) -> bool {
        self.0 & CANCELLED != 0
    }
    pub(crate) fn is_join_interested(self) -> bool {
        self.0 & JOIN_INTEREST != 0
    }
    pub(crate) fn is_join_waker_set(self) -> bool {
        self.0 & JOIN_WAKER != 0
    }
    pub(crate) fn ref_count(self) -> u64 {
        (self.0 & REF_MASK) / REF_ONE
    }
    /// How many of the references are parked wakers (invariant 6).
    pub(crate) fn parked_count(self) -> u64 {
        self.0 >> PARKED_SHIFT
    }
    fn idle(self) -> bool {
        self.0 & (RUNNING | NOTIFIED | COMPLETE) == 0
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("running", &self.is_running())
            .field("notified", &self.is_notified())
            .field("complete", &self.is_complete())
            .field("cancelled", &self.is_cancelled())
            .field("join_interest", &self.is_join_interested())
            .field("join_waker", &self.is_join_waker_set())
            .field("refs", &self.ref_count())
            .field("parked", &self.parked_count())
            .finish()
    }
}

/// What the poller must do after trying to start a poll.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum StartPoll {
    /// `RUNNING` acquired: poll the future.
    Poll,
    /// `RUNNING` acquired and the task was cancelled: drop the future.
    Cancel,
    /// The task had already completed: just drop the queue's reference.
    Skip,
}

/// What the poller must do after a poll returned `Pending`.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AfterPoll {
    /// Idle now; the poller drops its reference.
    Idle,
    /// Woken during the poll: the poller's reference goes back in a queue,
    /// through the caller of `Notified::run`.
    Reschedule,
    /// Cancelled during the poll: drop the future now.
    Cancel,
}

/// What a waker must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing: already notified, running (the poller will see `NOTIFIED`)
    /// or complete.
    Nothing,
    /// The task went from idle to notified and a new reference was taken:
    /// push it to a run queue.
    Schedule,
}

/// What a waker consumed by its wake-up (`Waker::wake`) must do.
#[must_use]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WakeByVal {
    /// The task went from idle to notified and the waker's reference
    /// became the queue's: push it to a run queue.
    Schedule,
    /// Nothing more: the waker's reference was dropped with the same
    /// update (the task was notified, running or complete).
    Done,
    /// As `Done`, and that was the last reference: free the cell.
    Dealloc,
}

/// The atomic state word.
pub(crate) struct State(AtomicU64);

impl State {
    /// A new task: notified (it goes straight into a queue), wanted by its
    /// `JoinHandle`, and holding `refs` references.
    pub(crate) fn new(refs: u64) -> State {
        State(AtomicU64::new(NOTIFIED | JOIN_INTEREST | (refs * REF_ONE)))
    }

    #[inline]
    pub(crate) fn load(&self) -> Snapshot {
        Snapshot(self.0.load(Acquire))
    }

    /// Applies `f` in a CAS loop. `f` returns the new word and a result, or
    /// `None` for the result to return without writing.
    #[inline]
    fn update<R>(&self, mut f: impl FnMut(Snapshot) -> (Option<u64>, R)) -> (Snapshot, R) {
        let mut cur = self.0.load(Acquire);
        loop {
            let (next, r) = f(Snapshot(cur));
            let Some(next) = next else {
                return (Snapshot(cur), r);
            };
            // AcqRel: the Release half publishes the stage (output written by
            // the poller) and the join waker (written by the JoinHandle) to
            // whoever next reads the word; the Acquire half makes those writes
            // by the other party visible to us.
            match self.0.compare_exchange_weak(cur, next, AcqRel, Acquire) {
                Ok(_) => return (Snapshot(cur), r),
                Err(actual) => cur = actual,
            }
        }
    }

    /// Poller: takes `RUNNING` and clears `NOTIFIED`. The caller holds the
    /// queue's reference, which becomes the running reference.
    #[inline]
    pub(crate) fn start_poll(&self) -> StartPoll {
        self.update(|s| {
            debug_assert!(
                s.is_notified() || s.is_complete(),
                "polled without notification: {s:?}"
            );
            if s.is_complete() || s.is_running() {
                // Complete: a shutdown cancelled it while this reference sat in
                // a queue. Running: impossible by invariant 2, but harmless.
                return (None, StartPoll::Skip);
            }
            let next = (s.0 | RUNNING) & !NOTIFIED;
            let what = if s.is_cancelled() {
                StartPoll::Cancel
            } else {
                StartPoll::Poll
            };
            (Some(next), what)
        })
        .1
    }

    /// Poller, after `Pending`: clears `RUNNING` unless a wake-up came during
    /// the poll, in which case the task stays notified and the poller's
    /// reference goes back to the caller of `Notified::run`, which requeues
    /// it through its own scheduler handle, not the cell's (so invariant 7
    /// needs no second reference there).
    #[inline]
    pub(crate) fn after_pending(&self) -> AfterPoll {
        self.update(|s| {
            debug_assert!(s.is_running() && !s.is_complete(), "after_pending: {s:?}");
            if s.is_cancelled() {
                return (None, AfterPoll::Cancel);
            }
            if s.is_notified() {
                // Keep NOTIFIED, drop RUNNING: the reference is requeued.
                (Some(s.0 & !RUNNING), AfterPoll::Reschedule)
            } else {
                (Some(s.0 & !RUNNING), AfterPoll::Idle)
            }
        })
        .1
    }

    /// Poller, after the output (or the cancellation error) has been stored:
    /// sets `COMPLETE`, clears `RUNNING`. Returns the state before.
    #[inline]
    pub(crate) fn complete(&self) -> Snapshot {
        let prev = Snapshot(self.0.fetch_xor(RUNNING | COMPLETE, AcqRel));
        debug_assert!(
            prev.is_running() && !prev.is_complete(),
            "complete: {prev:?}"
        );
        prev
    }

    /// Waker: idle becomes notified with one more reference (the queue's).
    #[inline]
    pub(crate) fn wake(&self) -> Wake {
        self.update(|s| {
            if s.idle() {
                (Some((s.0 | NOTIFIED) + REF_ONE), Wake::Schedule)
            } else if s.is_running() && !s.is_notified() && !s.is_complete() {
                (Some(s.0 | NOTIFIED), Wake::Nothing)
            } else {
                (None, Wake::Nothing)
            }
        })
        .1
    }

    /// Waker, consumed by the wake-up: as [`State::wake`], but the waker's
    /// own reference is handed over rather than a new one taken: to the
    /// queue when the task is scheduled, dropped in the same update
    /// otherwise. One atomic update where `wake` and a `ref_dec` made two.
    /// With `parked`, the waker was a parked one, and it leaves the parked
    /// count in this update either way: once woken it is no longer in any
    /// waiting structure.
    #[inline]
    pub(crate) fn wake_by_val(&self, parked: bool) -> WakeByVal {
        let unpark = if parked { PARKED_ONE } else { 0 };
        self.update(|s| {
            debug_assert!(s.ref_count() >= 1, "wake_by_val without a reference: {s:?}");
            debug_assert!(!parked || s.parked_count() >= 1, "unparked twice: {s:?}");
            if s.idle() {
                return (Some((s.0 | NOTIFIED) - unpark), WakeByVal::Schedule);
            }
            let next = if s.is_running() && !s.is_notified() && !s.is_complete() {
                s.0 | NOTIFIED
            } else {
                s.0
            };
            let what = if s.ref_count() == 1 {
                WakeByVal::Dealloc
            } else {
                WakeByVal::Done
            };
            (Some(next - REF_ONE - unpark), what)
        })
        .1
    }

    /// `abort`: sets `CANCELLED`; an idle task is also notified (with a new
    /// reference) so that a worker drops its future. A running task is
    /// notified so its poller sees the flag after the poll returns.
    pub(crate) fn cancel(&self) -> Wake {
        self.update(|s| {
            if s.is_complete() || s.is_cancelled() {
                (None, Wake::Nothing)
            } else if s.idle() {
                (Some((s.0 | CANCELLED | NOTIFIED) + REF_ONE), Wake::Schedule)
            } else {
                (Some(s.0 | CANCELLED | NOTIFIED), Wake::Nothing)
            }
        })
        .1
    }

    /// Shutdown: if the task is not running and not complete, takes `RUNNING`
    /// (and `CANCELLED`) so the caller may drop the future in place. Returns
    /// whether it did.
    pub(crate) fn shutdown(&self) -> bool {
        self.update(|s| {
            if s.is_complete() || s.is_running() {
                (Some(s.0 | CANCELLED), false)
            } else {
                (Some(s.0 | CANCELLED | RUNNING), true)
            }
        })
        .1
    }

    /// `JoinHandle` drop: gives up interest. Returns the state before; if it
    /// was complete, the output is the caller's to drop.
    pub(crate) fn drop_join_interest(&self) -> Snapshot {
        self.update(|s| {
            debug_assert!(s.is_join_interested());
            (Some(s.0 & !(JOIN_INTEREST | JOIN_WAKER)), ())
        })
        .0
    }

    /// `JoinHandle`: after writing the waker slot, publishes it. Fails (with
    /// the current snapshot) if the task completed meanwhile.
    pub(crate) fn set_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|s| {
            debug_assert!(s.is_join_interested() && !s.is_join_waker_set());
            if s.is_complete() {
                (None, false)
            } else {
                (Some(s.0 | JOIN_WAKER), true)
            }
        });
        if ok {
            Ok(())
        } else {
            Err(prev)
        }
    }

    /// `JoinHandle`: takes back exclusive access to the waker slot to replace
    /// the waker. Fails if the task completed meanwhile.
    pub(crate) fn unset_join_waker(&self) -> Result<(), Snapshot> {
        let (prev, ok) = self.update(|s| {
            debug_assert!(s.is_join_interested() && s.is_join_waker_set());
            if s.is_complete() {
                (None, false)
            } else {
                (Some(s.0 & !JOIN_WAKER), true)
            }
        });
        if ok {
            Ok(())
        } else {
            Err(prev)
        }
    }

    /// Takes one more reference.
    #[inline]
    pub(crate) fn ref_inc(&self) {
        // Relaxed: a new reference is made from an existing one, which keeps
        // the cell alive; no data is published by the increment (as in
        // `Arc::clone`).
        let prev = Snapshot(self.0.fetch_add(REF_ONE, Relaxed));
        if prev.ref_count() >= REF_MASK / REF_ONE / 2 {
            // As `Arc`: a count this high means leaked references.
            std::process::abort();
        }
    }

    /// Takes one more reference, counted as a parked waker too. Returns
    /// false, having taken a plain reference, once the parked count is at
    /// its limit.
    #[inline]
    pub(crate) fn ref_inc_parked(&self) -> bool {
        // Relaxed: as `ref_inc`.
        let prev = Snapshot(self.0.fetch_add(REF_ONE + PARKED_ONE, Relaxed));
        if prev.ref_count() >= REF_MASK / REF_ONE / 2 {
            std::process::abort();
        }
        if prev.parked_count() >= PARKED_LIMIT {
            // Relaxed: takes back only the parked mark just added.
            self.0.fetch_sub(PARKED_ONE, Relaxed);
            return false;
        }
        true
    }

    /// Drops one reference that was a parked waker; returns true if it was
    /// the last.
    #[inline]
    pub(crate) fn ref_dec_parked(&self) -> bool {
        // AcqRel: as `ref_dec`.
        let prev = Snapshot(self.0.fetch_sub(REF_ONE + PARKED_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 1 && prev.parked_count() >= 1);
        prev.ref_count() == 1
    }

    /// Drops one reference; returns true if it was the last.
    #[inline]
    pub(crate) fn ref_dec(&self) -> bool {
        // AcqRel: Release orders this holder's uses of the cell before the
        // decrement; the Acquire half lets the last holder see all of them
        // before it frees the cell (as in `Arc::drop`).
        let prev = Snapshot(self.0.fetch_sub(REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= 1, "ref_dec below zero: {prev:?}");
        prev.ref_count() == 1
    }

    /// Drops `n` references at once; returns true if they were the last.
    #[inline]
    pub(crate) fn ref_dec_n(&self, n: u64) -> bool {
        let prev = Snapshot(self.0.fetch_sub(n * REF_ONE, AcqRel));
        debug_assert!(prev.ref_count() >= n);
        prev.ref_count() == n
    }
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.load().fmt(f)
    }
}

#[allow(dead_code)]
const _: () = assert!(STATE_MASK < REF_ONE);

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn spawn_poll_idle_wake() {
        let s = State::new(3);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert!(s.load().is_running());
        assert_eq!(s.after_pending(), AfterPoll::Idle);
        assert_eq!(s.wake(), Wake::Schedule);
        assert_eq!(s.load().ref_count(), 4);
        assert_eq!(s.wake(), Wake::Nothing, "second wake while notified");
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert_eq!(s.wake(), Wake::Nothing, "wake while running only marks");
        assert_eq!(s.after_pending(), AfterPoll::Reschedule);
        assert!(s.load().is_notified() && !s.load().is_running());
    }

    #[test]
    fn wake_by_val_hands_over_the_reference() {
        let s = State::new(3);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert_eq!(s.after_pending(), AfterPoll::Idle);
        s.ref_inc(); // a waker
        assert_eq!(s.wake_by_val(false), WakeByVal::Schedule);
        assert_eq!(
            s.load().ref_count(),
            4,
            "the waker's reference is the queue's"
        );
        s.ref_inc(); // another waker, while notified
        assert_eq!(s.wake_by_val(false), WakeByVal::Done);
        assert_eq!(s.load().ref_count(), 4);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        s.ref_inc(); // a waker woken while running: marks, drops its reference
        assert_eq!(s.wake_by_val(false), WakeByVal::Done);
        assert!(s.load().is_notified());
        assert_eq!(s.load().ref_count(), 4);
        assert_eq!(s.after_pending(), AfterPoll::Reschedule);
        assert_eq!(s.load().ref_count(), 4, "the poller's goes back");
        assert_eq!(s.start_poll(), StartPoll::Poll);
        let _ = s.complete();
        assert!(!s.ref_dec_n(3));
        assert_eq!(
            s.wake_by_val(false),
            WakeByVal::Dealloc,
            "the last reference"
        );
    }

    #[test]
    fn parked_wakers_are_counted_apart() {
        let s = State::new(2);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert_eq!(s.after_pending(), AfterPoll::Idle);
        assert!(s.ref_inc_parked());
        assert!(s.ref_inc_parked());
        s.ref_inc();
        let snap = s.load();
        assert_eq!((snap.ref_count(), snap.parked_count()), (5, 2));
        assert!(!s.ref_dec_parked());
        assert_eq!(s.wake_by_val(true), WakeByVal::Schedule);
        let snap = s.load();
        assert_eq!(
            (snap.ref_count(), snap.parked_count()),
            (4, 0),
            "woken: no longer parked; its reference is the queue's"
        );
        assert!(!s.ref_dec());
        assert_eq!(s.load().ref_count(), 3);
    }

    #[test]
    fn complete_then_wake_is_noop() {
        let s = State::new(2);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        let prev = s.complete();
        assert!(prev.is_join_interested());
        assert!(s.load().is_complete() && !s.load().is_running());
        assert_eq!(s.wake(), Wake::Nothing);
        assert_eq!(s.cancel(), Wake::Nothing);
    }

    #[test]
    fn cancel_idle_schedules_running_marks() {
        let s = State::new(2);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert_eq!(s.cancel(), Wake::Nothing);
        assert_eq!(s.after_pending(), AfterPoll::Cancel);
        let s = State::new(2);
        assert_eq!(s.start_poll(), StartPoll::Poll);
        assert_eq!(s.after_pending(), AfterPoll::Idle);
        assert_eq!(s.cancel(), Wake::Schedule);
        assert_eq!(s.start_poll(), StartPoll::Cancel);
    }

    #[test]
    fn join_waker_handshake() {
        let s = State::new(2);
        assert!(s.set_join_waker().is_ok());
        assert!(s.unset_join_waker().is_ok());
        assert!(s.set_join_waker().is_ok());
        assert_eq!(s.start_poll(), StartPoll::Poll);
        let prev = s.complete();
        assert!(prev.is_join_waker_set());
        assert!(s.unset_join_waker().is_err());
    }

    #[test]
    fn refcount() {
        let s = State::new(2);
        s.ref_inc();
        assert!(!s.ref_dec());
        assert!(!s.ref_dec());
        assert!(s.ref_dec());
    }
}
