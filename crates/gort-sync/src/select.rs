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
//! Each case cleans up after itself when dropped: it cancels the selector
//! (`WAITING → CANCELLED`) and removes its sudog. If a peer committed this
//! very case first, a receive's value is handed back to the front of its
//! channel and a send's value (the channel closed) is dropped: nothing is
//! lost or duplicated.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use gort_core::WaitReason;

use crate::backoff::Backoff;
use crate::chan::waiter::{Selector, Sudog};
use crate::chan::waitq::Waiter;
use crate::chan::hchan::Side;
use crate::chan::{wake_all, Chan, Receiver, Recv, Send, SendError, TryRecv, TrySend, Wakes};
use crate::rand::fastrand;

/// One case of a select, with its output mapped to the select's output type
/// `O`. Object-safe, so a select's cases sit in one array of `&mut dyn Case`.
pub trait Case<O> {
    /// Pass 1: complete now if possible. Called while the select holds its
    /// selector `BUSY`.
    fn try_complete(&mut self, cx: &mut Context<'_>, sel: Option<&Selector>) -> Poll<O>;
    /// Pass 2: under the channel's lock, complete now if possible, else make
    /// sure a waiter of `sel` is queued, so that a peer can commit to it.
    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<O>;
    /// A peer committed this case: collect its result.
    fn take_committed(&mut self) -> O;
    /// Whether the case must be looked at on every poll (a future case)
    /// rather than waiting in a channel's queue (module doc, step 1).
    fn needs_poll(&self) -> bool {
        false
    }
}

/// A disabled case (Go's nil channel) is `None`: never ready, never
/// queued.
impl<O, C: Case<O>> Case<O> for Option<C> {
    fn try_complete(&mut self, cx: &mut Context<'_>, sel: Option<&Selector>) -> Poll<O> {
        match self {
            Some(c) => c.try_complete(cx, sel),
            None => Poll::Pending,
        }
    }
    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<O> {
        match self {
            Some(c) => c.enqueue(sel, idx),
            None => Poll::Pending,
        }
    }
    fn take_committed(&mut self) -> O {
        self.as_mut()
            .expect("a disabled case cannot be committed")
            .take_committed()
    }
    fn needs_poll(&self) -> bool {
        self.as_ref().is_some_and(C::needs_poll)
    }
}

/// A case whose output goes through `f` (the macro maps each case into its
/// variant of the select's output enum).
#[derive(Debug)]
pub struct Map<C, F> {
    case: C,
    f: Option<F>,
}

/// Maps a case's output.
pub fn map<C, F>(case: C, f: F) -> Map<C, F> {
    Map { case, f: Some(f) }
}

/// The raw output type of a case, before mapping.
pub trait RawCase {
    /// What the case produces.
    type Output;
    /// See [`Case::try_complete`].
    fn try_complete(&mut self, cx: &mut Context<'_>, sel: Option<&Selector>) -> Poll<Self::Output>;
    /// See [`Case::enqueue`].
    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<Self::Output>;
    /// See [`Case::take_committed`].
    fn take_committed(&mut self) -> Self::Output;
    /// See [`Case::needs_poll`].
    fn needs_poll(&self) -> bool {
        false
    }
    /// Undoes a completed case whose output the select refused (a
    /// refutable pattern that did not match): a received value goes back to
    /// the front of its channel. Other outputs are dropped.
    fn give_back(&mut self, out: Self::Output) {
        drop(out);
    }
}

impl<C: RawCase, F> Map<C, F> {
    /// See [`RawCase::give_back`].
    pub fn give_back(&mut self, out: C::Output) {
        self.case.give_back(out);
    }
}

impl<C: RawCase, O, F: FnOnce(C::Output) -> O> Case<O> for Map<C, F> {
    fn try_complete(&mut self, cx: &mut Context<'_>, sel: Option<&Selector>) -> Poll<O> {
        match self.case.try_complete(cx, sel) {
            Poll::Ready(v) => Poll::Ready((self.f.take().expect("case completed twice"))(v)),
            Poll::Pending => Poll::Pending,
        }
    }
    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<O> {
        match self.case.enqueue(sel, idx) {
            Poll::Ready(v) => Poll::Ready((self.f.take().expect("case completed twice"))(v)),
            Poll::Pending => Poll::Pending,
        }
    }
    fn take_committed(&mut self) -> O {
        let v = self.case.take_committed();
        (self.f.take().expect("case completed twice"))(v)
    }
    fn needs_poll(&self) -> bool {
        self.case.needs_poll()
    }
}

/// Something a receive case can reach its channel through: a borrowed
/// channel (`rx.recv()`) or an owned receiver (`rx`, `time::after(d)`).
pub trait ChanRef<T> {
    /// The channel.
    fn chan(&self) -> &Chan<T>;
}

impl<T> ChanRef<T> for &Chan<T> {
    fn chan(&self) -> &Chan<T> {
        self
    }
}

impl<T> ChanRef<T> for Receiver<T> {
    fn chan(&self) -> &Chan<T> {
        Receiver::chan(self)
    }
}

/// A receive case.
#[derive(Debug)]
pub struct RecvCase<T, R: ChanRef<T>> {
    rx: R,
    sudog: Option<Arc<Sudog<T>>>,
}

impl<T, R: ChanRef<T>> RawCase for RecvCase<T, R> {
    type Output = Option<T>;

    fn try_complete(&mut self, _cx: &mut Context<'_>, sel: Option<&Selector>) -> Poll<Option<T>> {
        self.try_now(sel)
    }

    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<Option<T>> {
        self.enqueue_now(sel, idx)
    }

    fn take_committed(&mut self) -> Option<T> {
        let sg = self.sudog.take().expect("committed case has a sudog");
        let mut g = self.rx.chan().lock();
        // SAFETY: the sudog was queued in this case's channel.
        unsafe { g.take_from(&sg) }
    }

    fn give_back(&mut self, out: Option<T>) {
        if let Some(v) = out {
            let mut wakes = Wakes::new();
            self.rx.chan().lock().hand_back(v, &mut wakes);
            wake_all(wakes);
        }
    }
}

impl<T, R: ChanRef<T>> RecvCase<T, R> {
    /// Pass 1: one look at the channel under its lock; receive if a value
    /// is there.
    fn try_now(&mut self, me: Option<&Selector>) -> Poll<Option<T>> {
        let chan = self.rx.chan();
        let mut wakes = Wakes::new();
        let r = match chan.lock().try_recv(chan.cap(), me, &mut wakes) {
            TryRecv::Got(v) => Poll::Ready(Some(v)),
            TryRecv::Closed => Poll::Ready(None),
            TryRecv::Empty => Poll::Pending,
        };
        wake_all(wakes);
        r
    }

    /// Pass 2: one more look under the lock; receive if a value is there,
    /// else make sure a sudog of `sel` is queued. (Apart from `try_now`,
    /// which runs on every select, so that pass 1 does not carry this
    /// path's live values.)
    fn enqueue_now(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<Option<T>> {
        let chan = self.rx.chan();
        let mut wakes = Wakes::new();
        // A sudog of an earlier selector (after `Select::reset`), dropped
        // after the lock is released: it may hold the last reference to
        // that selector, and so to a waker.
        let mut stale = None;
        let r = {
            let mut g = chan.lock();
            match g.try_recv(chan.cap(), Some(sel), &mut wakes) {
                TryRecv::Got(v) => Poll::Ready(Some(v)),
                TryRecv::Closed => Poll::Ready(None),
                TryRecv::Empty => {
                    if !self.sudog.as_ref().is_some_and(|sg| sg.is_of(Some(sel))) {
                        let sg = Arc::new(Sudog::case(sel.clone(), idx, None));
                        if let Some(old) = self.sudog.replace(sg.clone()) {
                            g.dequeue(&old);
                            stale = Some(old);
                        }
                        g.enqueue(Side::Recv, Waiter::Sudog(sg));
                    }
                    Poll::Pending
                }
            }
        };
        wake_all(wakes);
        drop(stale);
        r
    }
}

impl<T, R: ChanRef<T>> Drop for RecvCase<T, R> {
    #[inline]
    fn drop(&mut self) {
        if let Some(sg) = self.sudog.take() {
            self.cancel(sg);
        }
    }
}

impl<T, R: ChanRef<T>> RecvCase<T, R> {
    /// Drop of a case that queued a sudog.
    fn cancel(&mut self, sg: Arc<Sudog<T>>) {
        let mut wakes = Wakes::new();
        {
            let mut g = self.rx.chan().lock();
            match sg.sel().cancel() {
                Err(k) if k == sg.case_index() => {
                    // A peer committed this case but the select was dropped
                    // before collecting it: give the value back.
                    // SAFETY: the sudog was queued in this channel.
                    if let Some(v) = unsafe { g.take_from(&sg) } {
                        g.hand_back(v, &mut wakes);
                    }
                }
                _ => g.dequeue(&sg),
            }
        }
        wake_all(wakes);
    }
}

/// A send case.
#[derive(Debug)]
pub struct SendCase<'a, T> {
    chan: &'a Chan<T>,
    value: Option<T>,
    sudog: Option<Arc<Sudog<T>>>,
}

impl<T> RawCase for SendCase<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn try_complete(
        &mut self,
        _cx: &mut Context<'_>,
        sel: Option<&Selector>,
    ) -> Poll<Self::Output> {
        self.attempt(sel, None)
    }

    fn enqueue(&mut self, sel: &Arc<Selector>, idx: usize) -> Poll<Self::Output> {
        self.attempt(Some(sel), Some((sel, idx)))
    }

    fn take_committed(&mut self) -> Self::Output {
        let sg = self.sudog.take().expect("committed case has a sudog");
        let mut g = self.chan.lock();
        // SAFETY: the sudog was queued in this case's channel.
        match unsafe { g.take_from(&sg) } {
            None => Ok(()),
            Some(v) => Err(SendError(v)),
        }
    }
}

impl<T> SendCase<'_, T> {
    /// One offer of the value under the channel's lock (pass 1, or pass 2
    /// with `register`). The value is ours, or in our queued sudog, which no
    /// peer can take while the select holds its selector BUSY. If nobody
    /// takes it: back into our sudog of the current selector (queued
    /// again), or into a new one when registering, or kept by the case.
    fn attempt(
        &mut self,
        me: Option<&Selector>,
        register: Option<(&Arc<Selector>, usize)>,
    ) -> Poll<Result<(), SendError<T>>> {
        let mut wakes = Wakes::new();
        // Our sudog once this offer no longer needs it (emptied, and out of
        // the queue), dropped after the lock is released: it may hold the
        // last reference to an earlier selector, and so to a waker.
        let mut stale = None;
        let r = {
            let mut g = self.chan.lock();
            let v = match self.value.take() {
                Some(v) => Some(v),
                None => self.sudog.as_ref().and_then(|sg| {
                    g.dequeue(sg);
                    // SAFETY: the sudog was queued in this channel.
                    unsafe { g.take_from(sg) }
                }),
            };
            let Some(v) = v else {
                return Poll::Pending;
            };
            match g.try_send(self.chan.cap(), v, me, &mut wakes) {
                TrySend::Sent => {
                    stale = self.sudog.take();
                    Poll::Ready(Ok(()))
                }
                TrySend::Closed(v) => {
                    stale = self.sudog.take();
                    Poll::Ready(Err(SendError(v)))
                }
                TrySend::Full(v) => {
                    let current = match self.sudog.take() {
                        Some(sg) if sg.is_of(me) => Some(sg),
                        other => {
                            stale = other;
                            None
                        }
                    };
                    match (current, register) {
                        (Some(sg), _) => {
                            // SAFETY: the sudog was queued in this channel.
                            unsafe { g.put_into(&sg, v) };
                            g.enqueue(Side::Send, Waiter::Sudog(sg.clone()));
                            self.sudog = Some(sg);
                        }
                        (None, Some((sel, idx))) => {
                            let sg = Arc::new(Sudog::case(sel.clone(), idx, Some(v)));
                            g.enqueue(Side::Send, Waiter::Sudog(sg.clone()));
                            self.sudog = Some(sg);
                        }
                        (None, None) => self.value = Some(v),
                    }
                    Poll::Pending
                }
            }
        };
        wake_all(wakes);
        drop(stale);
        r
    }
}

impl<T> Drop for SendCase<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if let Some(sg) = self.sudog.take() {
            self.cancel(sg);
        }
    }
}

impl<T> SendCase<'_, T> {
    /// Drop of a case that queued a sudog.
    fn cancel(&mut self, sg: Arc<Sudog<T>>) {
        let undelivered = {
            let mut g = self.chan.lock();
            let _ = sg.sel().cancel();
            g.dequeue(&sg);
            // SAFETY: the sudog was queued in this channel.
            unsafe { g.take_from(&sg) }
        };
        drop(undelivered);
    }
}

/// Any other future as a case.
#[derive(Debug)]
pub struct FutureCase<F> {
    fut: Pin<Box<F>>,
}

impl<F: Future> RawCase for FutureCase<F> {
    type Output = F::Output;

    fn try_complete(&mut self, cx: &mut Context<'_>, _sel: Option<&Selector>) -> Poll<F::Output> {
        self.fut.as_mut().poll(cx)
    }

    fn enqueue(&mut self, _sel: &Arc<Selector>, _idx: usize) -> Poll<F::Output> {
        // Polled in pass 1 only; its own waker brings the select back.
        Poll::Pending
    }

    fn take_committed(&mut self) -> F::Output {
        unreachable!("no peer commits a future case")
    }

    fn needs_poll(&self) -> bool {
        true
    }
}

/// Tag types for picking a case kind by autoref specialisation: the macro
/// writes `(&expr).__gort_case_kind().into_case(expr)`; channel operations
/// resolve to `ChanKind`, anything else that is a future to `FutKind`.
pub mod kind {
    use super::*;

    /// Marks a channel operation.
    #[derive(Debug)]
    pub struct ChanTag;
    /// Marks any other future.
    #[derive(Debug)]
    pub struct FutTag;

    /// Found first for channel operations.
    pub trait ChanKind {
        /// The tag.
        fn __gort_case_kind(&self) -> ChanTag {
            ChanTag
        }
    }
    impl<T> ChanKind for Recv<'_, T> {}
    impl<T> ChanKind for Send<'_, T> {}
    impl<T> ChanKind for Receiver<T> {}

    /// Found for everything else, one autoref later.
    pub trait FutKind {
        /// The tag.
        fn __gort_case_kind(&self) -> FutTag {
            FutTag
        }
    }
    impl<F: IntoFuture> FutKind for &F {}

    /// Turns a channel operation into its case.
    pub trait IntoChanCase {
        /// The case.
        type Case: RawCase;
        /// Converts.
        fn into_chan_case(self) -> Self::Case;
    }
    impl<'a, T> IntoChanCase for Recv<'a, T> {
        type Case = RecvCase<T, &'a Chan<T>>;
        fn into_chan_case(self) -> Self::Case {
            RecvCase {
                rx: self.chan_ref(),
                sudog: None,
            }
        }
    }
    impl<'a, T> IntoChanCase for Send<'a, T> {
        type Case = SendCase<'a, T>;
        fn into_chan_case(self) -> SendCase<'a, T> {
            let (chan, v) = self.into_parts();
            SendCase {
                chan,
                value: Some(v),
                sudog: None,
            }
        }
    }
    impl<T> IntoChanCase for Receiver<T> {
        type Case = RecvCase<T, Receiver<T>>;
        fn into_chan_case(self) -> Self::Case {
            RecvCase {
                rx: self,
                sudog: None,
            }
        }
    }

    impl ChanTag {
        /// The channel case for `op`.
        pub fn into_case<C: IntoChanCase>(self, op: C) -> C::Case {
            op.into_chan_case()
        }
    }

    impl FutTag {
        /// The future case for `f`.
        pub fn into_case<F: IntoFuture>(self, f: F) -> FutureCase<F::IntoFuture> {
            FutureCase {
                fut: Box::pin(f.into_future()),
            }
        }
    }
}

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
