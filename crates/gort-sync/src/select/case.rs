//! The case types of a select: what each kind of case does in the
//! engine's passes (`mod.rs`, "The algorithm").
//!
//! The engine sees every case as a [`Case`]: `try_complete` is its part of
//! pass 1 (step 4), `enqueue` its part of pass 2 (step 6), and
//! `take_committed` collects what a peer committed to it (steps 1, 2 and
//! 8). A case's raw output ([`RawCase`]) is mapped into its branch's
//! variant of the select's output by [`Map`]; a disabled branch is a
//! `None`, never ready and never queued.
//!
//! - [`RecvCase`]: a receive, on a borrowed channel or an owned receiver.
//!   Pass 1 is one non-blocking receive under the channel's lock; pass 2
//!   is another and, if nothing is there, queues a sudog of the select's
//!   selector in the channel's `recvq` (once: it stays queued across polls
//!   until a peer commits to it or the case is dropped).
//! - [`SendCase`]: a send. Its value is the case's own until pass 2 queues
//!   it in a sudog in `sendq`; each later look takes it back out of the
//!   sudog to offer it, and puts it back if nobody takes it (no peer can
//!   take it meanwhile: the select holds its selector `BUSY`).
//! - [`FutureCase`]: any other future, polled in pass 1 only; its own
//!   waker brings the select back. No peer commits to it.
//!
//! Every sudog slot access is under the lock of the sudog's channel,
//! through `Inner::take_from`/`put_into` (`chan/hchan.rs`).
//!
//! # Dropping a select
//!
//! Each case cleans up after itself when dropped: it cancels the selector
//! (`WAITING → CANCELLED`) and removes its sudog. If a peer committed this
//! very case first, a receive's value is handed back to the front of its
//! channel and a send's value (the channel closed) is dropped: nothing is
//! lost or duplicated.
//!
//! Nothing of the user's is dropped under a channel's lock
//! (`chan/hchan.rs`): a sudog a case replaces and a cancelled send's value
//! are dropped after the lock is released.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::chan::hchan::Side;
use crate::chan::waiter::{Selector, Sudog};
use crate::chan::waitq::Waiter;
use crate::chan::{wake_all, Chan, Receiver, SendError, TryRecv, TrySend, Wakes};

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
    /// rather than waiting in a channel's queue (`mod.rs`, step 1).
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
    /// Queued by pass 2, once per selector.
    sudog: Option<Arc<Sudog<T>>>,
}

impl<T, R: ChanRef<T>> RecvCase<T, R> {
    /// A receive on `rx`'s channel, not yet queued.
    pub(super) fn new(rx: R) -> Self {
        RecvCase { rx, sudog: None }
    }
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
    /// The value while the case holds it (before pass 2 queues it, or
    /// after a pass-1 offer that nobody took).
    value: Option<T>,
    /// Queued by pass 2, holding the value.
    sudog: Option<Arc<Sudog<T>>>,
}

impl<'a, T> SendCase<'a, T> {
    /// A send of `v` on `chan`, not yet queued.
    pub(super) fn new(chan: &'a Chan<T>, v: T) -> Self {
        SendCase {
            chan,
            value: Some(v),
            sudog: None,
        }
    }
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

impl<F> FutureCase<F> {
    /// `fut` as a case, pinned in a box of its own.
    pub(super) fn new(fut: F) -> Self {
        FutureCase { fut: Box::pin(fut) }
    }
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
