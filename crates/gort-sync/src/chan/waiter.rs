//! Waiters: Go's `sudog` and the claim word a `select` shares among its
//! cases.
//!
//! A `Sudog` is one pending operation of one task on one channel: a
//! receive waiting for a value, or a send holding its value. It sits in the
//! channel's `recvq` or `sendq`. Every sudog points at a [`Selector`]: a
//! plain `send`/`recv` has its own; all the channel cases of one `select!`
//! share one, which is what makes exactly one case commit. (A plain
//! operation first tries the channel's embedded waiter, which needs no
//! sudog and no claim word: everything in it is under the channel's lock;
//! see `waitq.rs`.)
//!
//! # The claim word
//!
//! ```text
//! WAITING ──peer CAS──▶ COMMITTED(case)      a peer completed `case`
//!    │  ▲
//!    │  └── owner: BUSY → WAITING (or retry if MISSED)
//!    ▼
//!  BUSY ──peer──▶ BUSY|MISSED                 a peer skipped us meanwhile
//!    │
//!    └── owner ──▶ DONE(case)                 the owner completed `case` itself
//! WAITING ──owner──▶ CANCELLED                the owner gave up (dropped)
//! ```
//!
//! A peer (a task on the other side of a channel, holding that channel's
//! lock) may complete a sudog only by winning `WAITING → COMMITTED(case)`.
//! A `select` examining its cases holds `BUSY`, so no peer commits to it
//! meanwhile; a peer that finds `BUSY` leaves a `MISSED` mark and moves on
//! (it enqueues itself or takes another waiter). Releasing `BUSY` with the
//! mark set makes the select look again, and since the peer enqueued itself
//! under the channel lock before the select's second look takes that lock,
//! the second look finds it: no wake-up is lost.
//!
//! # The slot
//!
//! A sudog's value slot is touched only under the lock of the channel whose
//! queue the sudog was put in: by a peer that won the claim (delivering into
//! a receive, taking from a send, or leaving it as it is when the channel
//! closes), and by the owner after the claim is decided. That lock is the
//! slot's only protection, and is enough: each sudog belongs to exactly one
//! channel.

use std::sync::Arc;
use std::task::Waker;

use futures::task::AtomicWaker;
use gort_core::task::park_waker;

use crate::loom::{AtomicUsize, UnsafeCell};
use std::sync::atomic::Ordering::{AcqRel, Acquire};

const WAITING: usize = 0;
const BUSY: usize = 1;
const BUSY_MISSED: usize = 2;
const CANCELLED: usize = 3;
/// `COMMITTED(case)` is `COMMIT_BASE + 2 * case`; `DONE(case)` is one more.
const COMMIT_BASE: usize = 4;

/// The case of a `COMMITTED(case)` state word.
fn committed_case(s: usize) -> Option<usize> {
    (s >= COMMIT_BASE && (s - COMMIT_BASE).is_multiple_of(2)).then(|| (s - COMMIT_BASE) / 2)
}

/// What a peer's attempt to complete a sudog came to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Claim {
    /// The peer won: it must complete the operation now.
    Won,
    /// The owner is busy examining its cases: leave the sudog in the queue.
    Busy,
    /// Already completed or cancelled: the sudog is dead, drop it.
    Dead,
}

/// The claim word and waker shared by the cases of one operation (opaque
/// outside this crate; public only because `select!` expansions name it).
#[derive(Debug)]
pub struct Selector {
    state: AtomicUsize,
    waker: AtomicWaker,
}

impl Selector {
    pub(crate) fn new() -> Selector {
        Selector {
            state: AtomicUsize::new(WAITING),
            waker: AtomicWaker::new(),
        }
    }

    /// Peer: try `WAITING → COMMITTED(case)`.
    pub(crate) fn try_commit(&self, case: usize) -> Claim {
        let mut cur = self.state.load(Acquire);
        loop {
            let next = match cur {
                WAITING => COMMIT_BASE + 2 * case,
                BUSY => BUSY_MISSED,
                BUSY_MISSED => return Claim::Busy,
                _ => return Claim::Dead,
            };
            // AcqRel: Acquire sees the owner's registration; Release orders
            // nothing of ours yet (the slot is written under the channel
            // lock, which the owner takes before reading it).
            match self.state.compare_exchange(cur, next, AcqRel, Acquire) {
                Ok(_) if next == BUSY_MISSED => return Claim::Busy,
                Ok(_) => return Claim::Won,
                Err(actual) => cur = actual,
            }
        }
    }

    /// The case a peer committed, if one did.
    pub(crate) fn committed(&self) -> Option<usize> {
        committed_case(self.state.load(Acquire))
    }

    /// Whether a peer could commit to this selector now.
    pub(crate) fn is_waiting(&self) -> bool {
        self.state.load(Acquire) == WAITING
    }

    /// Owner: `WAITING → BUSY` to examine the cases. `Err(case)` if a peer
    /// already committed that case.
    pub(crate) fn begin(&self) -> Result<(), usize> {
        match self.state.compare_exchange(WAITING, BUSY, AcqRel, Acquire) {
            Ok(_) => Ok(()),
            Err(s) => {
                Err(committed_case(s).unwrap_or_else(|| panic!("select: begin in state {s}")))
            }
        }
    }

    /// Owner: releases `BUSY`. Returns true (still holding `BUSY`) if a peer
    /// skipped us meanwhile and the cases must be examined again.
    pub(crate) fn end(&self) -> bool {
        match self.state.compare_exchange(BUSY, WAITING, AcqRel, Acquire) {
            Ok(_) => false,
            Err(BUSY_MISSED) => {
                self.state.store(BUSY, std::sync::atomic::Ordering::Release);
                true
            }
            Err(s) => unreachable!("end in state {s}"),
        }
    }

    /// Owner, holding `BUSY`: clears a `MISSED` mark, returning whether
    /// there was one.
    pub(crate) fn take_missed(&self) -> bool {
        self.state
            .compare_exchange(BUSY_MISSED, BUSY, AcqRel, Acquire)
            .is_ok()
    }

    /// Owner, holding `BUSY`: it completed `case` itself.
    pub(crate) fn done(&self, case: usize) {
        self.state.store(
            COMMIT_BASE + 2 * case + 1,
            std::sync::atomic::Ordering::Release,
        );
    }

    /// Owner: gives up. `Err(case)` if a peer committed first.
    pub(crate) fn cancel(&self) -> Result<(), usize> {
        match self
            .state
            .compare_exchange(WAITING, CANCELLED, AcqRel, Acquire)
        {
            Ok(_) => Ok(()),
            Err(s) => match committed_case(s) {
                Some(k) => Err(k),
                None => Ok(()),
            },
        }
    }

    /// Stores `w` (parked: this select's wake-up is gort's to deliver).
    /// `AtomicWaker` keeps the waker it holds when the parked one made here
    /// wakes the same task, so a re-poll costs the parked clone's making and
    /// dropping.
    pub(crate) fn register(&self, w: &Waker) {
        self.waker.register(&park_waker(w));
    }

    /// Peer, after winning: the waker to wake once the channel is unlocked.
    pub(crate) fn take_waker(&self) -> Option<Waker> {
        self.waker.take()
    }
}

/// Where a sudog's selector lives: inside it for a plain operation (one
/// allocation), shared for a `select`.
#[derive(Debug)]
enum SelRef {
    Own(Selector),
    Shared(Arc<Selector>),
}

/// One pending operation on one channel (Go's `sudog`).
#[derive(Debug)]
pub(crate) struct Sudog<T> {
    sel: SelRef,
    case: usize,
    /// See the module doc, "The slot".
    slot: UnsafeCell<Option<T>>,
}

// SAFETY: the slot is only accessed under the owning channel's mutex (module
// doc), so a `&Sudog` shared across threads never gives unsynchronised access
// to the `T`; moving a `T` between threads needs `T: Send`.
unsafe impl<T: Send> Sync for Sudog<T> {}

impl<T> Sudog<T> {
    /// A plain operation's sudog, with its own selector.
    pub(crate) fn plain(value: Option<T>) -> Sudog<T> {
        Sudog {
            sel: SelRef::Own(Selector::new()),
            case: 0,
            slot: UnsafeCell::new(value),
        }
    }

    /// One case of a select.
    pub(crate) fn case(sel: Arc<Selector>, case: usize, value: Option<T>) -> Sudog<T> {
        Sudog {
            sel: SelRef::Shared(sel),
            case,
            slot: UnsafeCell::new(value),
        }
    }

    pub(crate) fn sel(&self) -> &Selector {
        match &self.sel {
            SelRef::Own(s) => s,
            SelRef::Shared(s) => s,
        }
    }

    pub(crate) fn case_index(&self) -> usize {
        self.case
    }

    /// Whether this sudog belongs to the operation whose selector is `sel`.
    pub(crate) fn is_of(&self, sel: Option<&Selector>) -> bool {
        sel.is_some_and(|s| std::ptr::eq(s, self.sel()))
    }

    /// Peer: try to claim this sudog.
    pub(crate) fn try_claim(&self) -> Claim {
        self.sel().try_commit(self.case)
    }

    /// Moves the value out of the slot.
    ///
    /// # Safety
    /// The caller holds the lock of the channel this sudog was queued in.
    pub(crate) unsafe fn take(&self) -> Option<T> {
        // SAFETY: the channel lock serialises every slot access (module doc).
        self.slot.with_mut(|s| unsafe { (*s).take() })
    }

    /// Puts a value in the slot.
    ///
    /// # Safety
    /// As for [`Sudog::take`].
    pub(crate) unsafe fn put(&self, v: T) {
        // SAFETY: as for `take`.
        self.slot.with_mut(|s| unsafe { *s = Some(v) })
    }
}
