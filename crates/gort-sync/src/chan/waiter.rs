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
//!  BUSY ──owner──▶ PAUSED ──owner──▶ BUSY      a back-off step inside a poll;
//!                    └──peer CAS──▶ COMMITTED(case)   claimable as WAITING
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
//! This file is the whole claim protocol: the word's states and every
//! transition, as methods of [`Selector`] named for who may make them
//! (owner or peer). The owner's side runs in the select engine
//! (`select/mod.rs`, steps 1–8) and in a plain operation's poll and drop
//! (`ops.rs`); the peer's side in the channel's hand-offs under its lock
//! (`hchan.rs`, `claim_first` and `release_all_waiters`).
//!
//! # Two selects
//!
//! A select that finds another select's sudog `BUSY` may itself be `BUSY`
//! (a select passes its own selector, `me`, to every claim it makes while
//! it holds it). If each marked the other, two selects over the same
//! channels in opposite roles (one sending on `a` and receiving on `b`,
//! the other the reverse) could keep each other looking for ever: every
//! look of one marks the other, which therefore looks again and marks the
//! first, and neither releases `BUSY` unmarked, so neither ever becomes
//! claimable. Backing off alone does not break that, since a select
//! backing off still holds `BUSY`. Three rules do:
//!
//! 1. **An order.** The selects alive at one time are ordered (by their
//!    selectors' addresses), and of two busy selects only the later one
//!    looks again: a select that finds a busy select that goes before it
//!    marks *itself* `MISSED` and leaves the other unmarked. Nothing is
//!    lost: the later select's sudog is queued on that channel (or it
//!    keeps its value) and it looks at the channel again; by then the
//!    earlier one is claimable (the later one commits to it), done (its
//!    sudog is dead), or still busy (the later one looks again). An earlier
//!    select never looks again because of a later one, so the earliest
//!    busy select's looks end (its only marks come from plain operations,
//!    closes and hand-backs, each a step of progress), then the next
//!    one's, and so on. A select's first look, before it has a selector,
//!    is not busy and marks as a plain operation does.
//! 2. **Claimable while waiting.** A select that has to look again more
//!    than once in one poll waits a step of the crate's back-off first
//!    (`backoff.rs`), with `BUSY` released (`Selector::pause`): the
//!    select it waits for, looking at it meanwhile, commits to it instead
//!    of marking it (`select/mod.rs`, after step 8).
//! 3. **No needless looks.** A select with only channel cases that is
//!    polled again without a commit does not take `BUSY` at all (every
//!    sudog of a waiting select stays queued until a peer commits to it:
//!    there is nothing to look at): a select polled again and again,
//!    without being woken, does not keep making itself unclaimable
//!    (`select/mod.rs`, step 1).
//!
//! `loom_select_vs_select_opposite_roles` models the two selects. Without
//! the rules it found them marking each other for ever: with a back-off
//! alone within two preemptions, with rule 3 alone within three. A
//! select with a future case still takes `BUSY` on every poll, so one
//! polled without pause by its executor while another waits for it makes
//! progress only as the two's timing allows (a real executor polls a task
//! again when it is woken).
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

use gort_core::task::park_waker;

use crate::loom::{AtomicUsize, AtomicWaker, UnsafeCell};
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed, Release};

// The claim word's states (module doc, "The claim word"). The first five
// are single values; each case `k` has two more, from `COMMIT_BASE` up:
// `COMMITTED(k)` and `DONE(k)` (`committed_word`, `done_word`).

/// Nobody holds the word: a peer may commit a case.
const WAITING: usize = 0;
/// The owner is looking at its cases: peers leave it alone.
const BUSY: usize = 1;
/// `BUSY`, and a peer skipped the owner meanwhile (or the owner skipped a
/// busy select that goes before it): the owner must look again.
const BUSY_MISSED: usize = 2;
/// The owner gave up (its operation was dropped) before any commit.
const CANCELLED: usize = 3;
/// The owner released `BUSY` for a back-off step inside its poll
/// (`pause`) and will take it back and look again: a peer may commit a case
/// as in `WAITING`, but the owner is not parked, so a channel with it and a
/// parked peer on opposite queues is not stuck (the channel's debug
/// invariant counts only parked waiters, `is_waiting`).
const PAUSED: usize = 4;
/// The first of the per-case states.
const COMMIT_BASE: usize = 5;

/// The word of `COMMITTED(case)`: a peer completed `case`.
const fn committed_word(case: usize) -> usize {
    COMMIT_BASE + 2 * case
}

/// The word of `DONE(case)`: the owner completed `case` itself.
const fn done_word(case: usize) -> usize {
    committed_word(case) + 1
}

/// The case of a `COMMITTED(case)` state word.
fn committed_case(s: usize) -> Option<usize> {
    (s >= COMMIT_BASE && (s - COMMIT_BASE).is_multiple_of(2)).then(|| (s - COMMIT_BASE) / 2)
}

/// The case index of a plain operation's sudog: its selector has no other.
const PLAIN_CASE: usize = 0;

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
    /// The select order under loom, where addresses differ between a
    /// model's executions and loom needs every execution of a schedule to
    /// decide the same (see [`Selector::goes_before`]).
    #[cfg(loom)]
    seq: usize,
}

impl Selector {
    pub(crate) fn new() -> Selector {
        Selector {
            state: AtomicUsize::new(WAITING),
            waker: AtomicWaker::new(),
            #[cfg(loom)]
            seq: {
                // A plain std atomic, not loom's: numbering the selectors is
                // not part of the model (no branch point). Creation order is
                // fixed by the schedule, so replays agree.
                static NEXT: std::sync::atomic::AtomicUsize =
                    std::sync::atomic::AtomicUsize::new(0);
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            },
        }
    }

    /// Peer: try `WAITING → COMMITTED(case)`. `me` is the peer's own
    /// selector when the peer is a select holding it `BUSY`: if this
    /// selector is busy too and comes first in the select order, the peer
    /// marks itself `MISSED` instead of marking this one (module doc,
    /// "Two selects").
    pub(crate) fn try_commit(&self, case: usize, me: Option<&Selector>) -> Claim {
        let mut cur = self.state.load(Acquire);
        loop {
            let next = match cur {
                WAITING | PAUSED => committed_word(case),
                BUSY | BUSY_MISSED if me.is_some_and(|me| self.goes_before(me)) => {
                    me.expect("checked").mark_self_missed();
                    return Claim::Busy;
                }
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

    /// The select order (module doc, "Two selects"): whether this
    /// selector goes before `other`. Any fixed total order of the selects
    /// alive at one time would do; the address is one, and costs nothing
    /// (under loom: the creation order).
    fn goes_before(&self, other: &Selector) -> bool {
        #[cfg(not(loom))]
        {
            std::ptr::from_ref(self).addr() < std::ptr::from_ref(other).addr()
        }
        #[cfg(loom)]
        {
            self.seq < other.seq
        }
    }

    /// Owner, holding `BUSY`: it skipped a busy select that goes before it,
    /// so it must look again (module doc, "Two selects"). Relaxed: only
    /// this thread acts on the mark (its own `end` or `take_missed`, which
    /// read-modify-write the same word later in program order, so they see
    /// it); a peer's mark made meanwhile is kept by the exchange failing.
    fn mark_self_missed(&self) {
        let _ = self
            .state
            .compare_exchange(BUSY, BUSY_MISSED, Relaxed, Relaxed);
    }

    /// The case a peer committed, if one did.
    pub(crate) fn committed(&self) -> Option<usize> {
        // Acquire: pairs with the Release half of the peer's winning
        // exchange in `try_commit`, so what the peer did before committing
        // happens-before what the owner does on seeing it. (The slot is
        // read under the channel lock, which orders it on its own.)
        committed_case(self.state.load(Acquire))
    }

    /// Whether the owner is parked on this selector (`WAITING`, not a
    /// `PAUSED` back-off step inside its poll).
    pub(crate) fn is_waiting(&self) -> bool {
        // Acquire: as in `committed`. (Only the channel's debug invariant
        // checks ask, under the channel lock.)
        self.state.load(Acquire) == WAITING
    }

    /// Owner: `WAITING → BUSY` to examine the cases. `Err(case)` if a peer
    /// already committed that case.
    pub(crate) fn begin(&self) -> Result<(), usize> {
        // Failure's Acquire reads a peer's `COMMITTED`: pairs with its
        // exchange, as in `committed`. Success publishes nothing a peer
        // needs: a peer that reads `BUSY` takes nothing of the owner's.
        let mut cur = self.state.load(Acquire);
        loop {
            match cur {
                WAITING | PAUSED => match self.state.compare_exchange(cur, BUSY, AcqRel, Acquire) {
                    Ok(_) => return Ok(()),
                    Err(actual) => cur = actual,
                },
                s => {
                    return Err(
                        committed_case(s).unwrap_or_else(|| panic!("select: begin in state {s}"))
                    )
                }
            }
        }
    }

    /// Owner: releases `BUSY`. Returns true (still holding `BUSY`) if a peer
    /// skipped us meanwhile and the cases must be examined again.
    pub(crate) fn end(&self) -> bool {
        // Success's Release publishes the registered waker to the peer
        // whose Acquire in `try_commit` reads `WAITING`. Failure's Acquire
        // reads a peer's `BUSY_MISSED`: pairs with that peer's marking
        // exchange (what the peer queued before marking, the owner's next
        // look reads under the channel lock anyway).
        match self.state.compare_exchange(BUSY, WAITING, AcqRel, Acquire) {
            Ok(_) => false,
            Err(BUSY_MISSED) => {
                // A store, not an exchange: no peer changes `BUSY_MISSED`.
                // Release, as in `begin`: a peer that reads it only skips.
                self.state.store(BUSY, Release);
                true
            }
            Err(s) => unreachable!("end in state {s}"),
        }
    }

    /// Owner, holding `BUSY` (marked or not) and about to wait before it
    /// looks at its cases again: releases `BUSY` for the wait, so that a
    /// peer can commit to it meanwhile (module doc, "Two selects"). The
    /// owner takes it back with [`Selector::begin`], which says whether a
    /// peer committed. A mark is dropped: the look it asks for is the one
    /// the owner is about to make.
    pub(crate) fn pause(&self) {
        // A swap, not a store: a peer may be turning BUSY into BUSY_MISSED
        // (the only transition a peer makes out of either state).
        // AcqRel, as `end`: Release publishes the registered waker to the
        // peer whose Acquire in `try_commit` reads WAITING.
        let prev = self.state.swap(PAUSED, AcqRel);
        debug_assert!(prev == BUSY || prev == BUSY_MISSED, "pause in state {prev}");
    }

    /// Owner, holding `BUSY`: clears a `MISSED` mark, returning whether
    /// there was one.
    pub(crate) fn take_missed(&self) -> bool {
        // Acquire on success: pairs with the peer's marking exchange, as in
        // `end`; Release: as in `begin`.
        self.state
            .compare_exchange(BUSY_MISSED, BUSY, AcqRel, Acquire)
            .is_ok()
    }

    /// Owner, holding `BUSY`: it completed `case` itself.
    pub(crate) fn done(&self, case: usize) {
        // Release: pairs with a peer's Acquire load in `try_commit`, which
        // then finds the sudog dead and drops it from its queue; nothing
        // else is read through the word.
        self.state.store(done_word(case), Release);
    }

    /// Owner: gives up. `Err(case)` if a peer committed first.
    pub(crate) fn cancel(&self) -> Result<(), usize> {
        // Failure's Acquire reads a peer's `COMMITTED`: as in `committed`.
        // Success's Release: as in `done` (a peer then drops the sudog).
        let mut cur = self.state.load(Acquire);
        loop {
            match cur {
                // (Never `PAUSED` in practice: a pause ends inside the poll
                // that made it, before the operation can be dropped.)
                WAITING | PAUSED => {
                    match self.state.compare_exchange(cur, CANCELLED, AcqRel, Acquire) {
                        Ok(_) => return Ok(()),
                        Err(actual) => cur = actual,
                    }
                }
                s => {
                    return match committed_case(s) {
                        Some(k) => Err(k),
                        None => Ok(()),
                    }
                }
            }
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
            case: PLAIN_CASE,
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

    /// Peer: try to claim this sudog; `me` as for [`Selector::try_commit`].
    pub(crate) fn try_claim(&self, me: Option<&Selector>) -> Claim {
        self.sel().try_commit(self.case, me)
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
