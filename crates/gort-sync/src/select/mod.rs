//! The engine under `gort::select!` (Go's `selectgo`).
//!
//! # The algorithm
//!
//! One [`Selector`] claim word is shared by every channel case of a select
//! (see `chan/waiter.rs`). Each poll of the select:
//!
//! 1. If the select has waited before (it has a selector) and a peer
//!    committed a case meanwhile, that case completes: its value is
//!    collected from its sudog, and the select is done. Otherwise it
//!    registers the task's waker on the selector. With only channel cases
//!    it then waits again, without looking at them: each case's sudog is
//!    still queued, so a peer that comes commits to it (`chan/waiter.rs`,
//!    "Two selects", rule 3). With a future case, it goes on...
//! 2. ...and claims the selector (`WAITING → BUSY`). If a peer committed a
//!    case in between, that case completes as in 1.
//! 3. Shuffles the cases into a fresh uniformly random order (a full
//!    Fisher–Yates shuffle, as Go's `pollorder`, so with three ready cases
//!    each wins a third of the time). A disabled case keeps its place and
//!    is never ready.
//! 4. Pass 1: tries each case in that order without blocking: a channel
//!    case tries its send or receive (never matching a sudog of this same
//!    select: Go's self-select rule), a future case is polled. The first that
//!    completes is the chosen one. A select that completes here, before it
//!    ever waited, allocates nothing.
//! 5. Otherwise it makes its selector (once) and holds it `BUSY`, so no
//!    peer can commit a case while it looks: exactly one case commits, and a
//!    future's output is only produced when it is chosen.
//! 6. Pass 2: in the same order, under each channel's lock, looks once more
//!    and queues a sudog (once; they stay queued across polls). A peer that
//!    came between pass 1 and pass 2 left its value in the buffer or queued
//!    itself: pass 2 sees it. A peer that comes later finds our sudog while
//!    we are `BUSY` and leaves a `MISSED` mark.
//! 7. With `default`: if no peer left a mark, nothing was ready at the end
//!    of pass 2 (every channel was empty at its look and none was touched
//!    since), the instant Go's `selectgo` gets by holding every channel lock;
//!    take `default`. With a mark, start over at 3.
//! 8. Release `BUSY → WAITING`; with a `MISSED` mark, start over at 3 still
//!    `BUSY`. Otherwise wait: the next peer to win `WAITING →
//!    COMMITTED(case)` completes that case's operation into its sudog and
//!    wakes us.
//!
//! A mark is also left by the select itself when it found another busy
//! select that goes before it (`chan/waiter.rs`, "Two selects", rule 1):
//! it then starts over until it finds that one claimable or gone. The first
//! start-over of a poll is immediate (a plain peer that marked us has
//! queued itself, and the next look finds it). Every later one first
//! releases `BUSY` and waits a step of the crate's back-off (`backoff.rs`:
//! a round of spinning, then a yield of the thread), then takes `BUSY`
//! back as in step 2, completing the case a peer committed meanwhile, if
//! one did: a select that keeps waiting for another's `BUSY` to end is
//! itself claimable while it waits, so that the other one, looking at it,
//! can commit to it rather than mark it (rule 2).
//!
//! # Dropping a select
//!
//! Each case cleans up after itself (`case.rs`, "Dropping a select").
//!
//! # Where the parts live
//!
//! - This file: the engine, [`Select::poll`] (the steps above), the pace
//!   of its start-overs (`Retry`) and the case order (`shuffle`, drawing
//!   from the crate's one random source, `rand.rs`).
//! - `case.rs`: the case types, each kind of case's part of passes 1 and
//!   2, collecting what a peer committed, and the clean-up on drop.
//! - `kind.rs`: how a `select!` branch's expression becomes a case.
//! - The claim protocol (the [`Selector`] word, its states and who may
//!   make which transition) is in `chan/waiter.rs`, not here: a peer on a
//!   channel runs it under that channel's lock as much as a select does,
//!   on the sudogs that carry it. The macro is `gort-macros/src/select.rs`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gort_core::WaitReason;

use crate::backoff::Backoff;
use crate::chan::waiter::Selector;
use crate::rand::fastrand;
/// Tests only: restarts this thread's case-order generator (`rand.rs`).
#[cfg(not(loom))]
#[doc(hidden)]
pub use crate::rand::seed_thread_rand;

mod case;
pub mod kind;

pub use case::{map, Case, ChanRef, FutureCase, Map, RawCase, RecvCase, SendCase};

/// `select! {}` (Go's `select {}`): never ready; a task awaiting it is
/// parked for good with the wait reason `select`.
#[derive(Debug)]
pub struct Forever;

impl Future for Forever {
    type Output = ();

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        gort_core::runtime::set_wait_reason(WaitReason::Select);
        Poll::Pending
    }
}

/// What a select poll produced.
#[derive(Debug)]
pub enum Selected<O> {
    /// Case `.0` completed with `.1`.
    Case(usize, O),
    /// Nothing was ready and the select has a `default`.
    Default,
}

/// One select's state: its shared selector, made when the select first
/// has to wait (a select that completes at once allocates nothing).
#[derive(Debug, Default)]
pub struct Select {
    sel: Option<Arc<Selector>>,
}

/// The most cases one select may have. A poll keeps its case order in a
/// `[u8; MAX_CASES]` on its stack.
///
/// `select!` refuses more branches, at the first extra branch's span. The
/// macro cannot import this constant (a proc-macro crate does not link the
/// crates its expansions call), so `gort-macros` keeps a copy of the
/// number, and every `select!` expansion asserts at compile time that the
/// copy equals this constant: a change to one that forgets the other fails
/// the first build that uses `select!` (gort's own tests do).
pub const MAX_CASES: usize = 64;

// The case order's indices are `u8`s.
const _: () = assert!(MAX_CASES <= u8::MAX as usize + 1);

/// The index a select that takes `default` records in its claim word
/// (`DONE(DEFAULT_CASE)`, so that peers find its sudogs dead): no case's,
/// since cases are numbered below [`MAX_CASES`].
const DEFAULT_CASE: usize = MAX_CASES;

impl Select {
    /// A fresh select.
    pub fn new() -> Select {
        Select { sel: None }
    }

    /// Starts over with a fresh selector, after the macro refused a case's
    /// output (a refutable pattern that did not match) and disabled it.
    pub fn reset(&mut self) {
        self.sel = None;
    }

    /// One poll of the select over `cases` (module doc, steps 1-8).
    ///
    /// # Panics
    ///
    /// With more than [`MAX_CASES`] cases.
    pub fn poll<O>(
        &mut self,
        cx: &mut Context<'_>,
        cases: &mut [&mut dyn Case<O>],
        has_default: bool,
    ) -> Poll<Selected<O>> {
        assert!(
            cases.len() <= MAX_CASES,
            "select! supports at most {MAX_CASES} cases"
        );
        if let Some(sel) = &self.sel {
            // Woken by a peer's commit (the usual reason to be polled
            // again): complete without registering a waker that nobody
            // would use (two CASes on the `AtomicWaker`).
            if let Some(k) = sel.committed() {
                return Poll::Ready(Selected::Case(k, cases[k].take_committed()));
            }
            sel.register(cx.waker());
            // Only channel cases: each one's sudog is still queued (a sudog
            // leaves its queue only when a peer commits to it), so a peer
            // that comes commits to us; looking again would find nothing a
            // peer would not have committed, and would make us BUSY for
            // nothing (a select that another select waits for, polled
            // again and again, would keep it waiting).
            if !cases.iter().any(|c| c.needs_poll()) {
                // Re-check after registering: a commit in between would
                // have taken the old waker.
                if let Some(k) = sel.committed() {
                    return Poll::Ready(Selected::Case(k, cases[k].take_committed()));
                }
                gort_core::runtime::set_wait_reason(WaitReason::Select);
                return Poll::Pending;
            }
            if let Err(k) = sel.begin() {
                return Poll::Ready(Selected::Case(k, cases[k].take_committed()));
            }
        }
        // From here we hold BUSY (once a selector exists) until `end`.
        let mut order = [0u8; MAX_CASES];
        let order = &mut order[..cases.len()];
        let mut retry = Retry::new();
        loop {
            shuffle(order);
            let me = self.sel.as_deref();
            // A disabled case's `try_complete` and `enqueue` are `Pending`,
            // so the passes need no separate (virtual) check per case.
            for &i in order.iter() {
                let i = usize::from(i);
                if let Poll::Ready(out) = cases[i].try_complete(cx, me) {
                    if let Some(sel) = me {
                        sel.done(i);
                    }
                    return Poll::Ready(Selected::Case(i, out));
                }
            }
            let sel = match &self.sel {
                Some(sel) => sel.clone(),
                None => {
                    let sel = Arc::new(Selector::new());
                    sel.register(cx.waker());
                    sel.begin().expect("a fresh selector is WAITING");
                    self.sel = Some(sel.clone());
                    sel
                }
            };
            // Pass 2: under each channel's lock, look once more and queue a
            // waiter. A peer that came between pass 1's look and this one
            // left its value in the buffer or queued itself: seen here. A
            // peer that comes after finds our waiter while we are BUSY and
            // marks us MISSED.
            for &i in order.iter() {
                let i = usize::from(i);
                if let Poll::Ready(out) = cases[i].enqueue(&sel, i) {
                    sel.done(i);
                    return Poll::Ready(Selected::Case(i, out));
                }
            }
            // With `default`: nothing was ready at each channel's pass-2
            // look, and no peer touched any of them since (no MISSED mark),
            // so nothing was ready at this instant: take `default`, as Go's
            // `selectgo` does holding every channel lock at once.
            if has_default {
                if sel.take_missed() {
                    if let Err(k) = retry.wait(&sel) {
                        return Poll::Ready(Selected::Case(k, cases[k].take_committed()));
                    }
                    continue;
                }
                sel.done(DEFAULT_CASE);
                return Poll::Ready(Selected::Default);
            }
            // A peer skipped us while we were busy (or we skipped a busy
            // select that goes before us): look again, still BUSY.
            if sel.end() {
                if let Err(k) = retry.wait(&sel) {
                    return Poll::Ready(Selected::Case(k, cases[k].take_committed()));
                }
                continue;
            }
            gort_core::runtime::set_wait_reason(WaitReason::Select);
            return Poll::Pending;
        }
    }
}

/// The pace of a poll's start-overs (module doc, after step 8): the first
/// at once, each later one after a step of the crate's back-off, waited
/// with `BUSY` released.
#[derive(Debug)]
struct Retry {
    first: bool,
    backoff: Backoff,
}

impl Retry {
    fn new() -> Retry {
        Retry {
            first: true,
            backoff: Backoff::new(),
        }
    }

    /// Called before each start-over, holding `sel` `BUSY`; holding it
    /// again on `Ok`. `Err(case)`: a peer committed `case` while `sel` was
    /// released.
    #[inline]
    fn wait(&mut self, sel: &Selector) -> Result<(), usize> {
        if self.first {
            self.first = false;
            return Ok(());
        }
        sel.pause();
        self.backoff.snooze();
        sel.begin()
    }
}

/// Fills `order` with a uniformly random permutation of its indices
/// (Fisher–Yates).
#[inline]
fn shuffle(order: &mut [u8]) {
    if let [a, b] = order {
        // The common two-case select: one random bit.
        let first = (fastrand() >> 63) as u8;
        *a = first;
        *b = first ^ 1;
        return;
    }
    shuffle_n(order);
}

/// [`shuffle`] for any other number of cases.
fn shuffle_n(order: &mut [u8]) {
    for (i, o) in order.iter_mut().enumerate() {
        *o = i as u8;
    }
    let mut r = fastrand();
    for i in (1..order.len()).rev() {
        // Lemire's multiply-shift instead of a division: j in 0..=i. Each
        // step uses 32 fresh bits; a new draw every second step.
        if i % 2 == 0 {
            r = fastrand();
        }
        let j = (((r & 0xFFFF_FFFF) * (i as u64 + 1)) >> 32) as usize;
        r >>= 32;
        order.swap(i, j);
    }
}
