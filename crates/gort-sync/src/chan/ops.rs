//! The blocking halves of send and receive, shared by the futures, the
//! `Stream`/`Sink` impls and the select cases: poll once, park a sudog,
//! collect the result when a peer commits, and clean up on drop.
//!
//! # Cancel safety
//!
//! A receive dropped before a sender committed to it takes nothing. A
//! receive dropped after a sender committed to it (the sender's `send` has
//! returned) hands the value back to the channel: to a waiting receiver, or
//! to the front of the buffer, so it is the next value received. A send
//! dropped before a receiver took its value takes its value back (dropped
//! with the future); one dropped after delivered it.

use std::sync::Arc;
use std::task::{Context, Poll};

use gort_core::WaitReason;

use super::hchan::{wake_all, Chan, TryRecv, TrySend};
use super::waiter::Sudog;

/// A receive in progress: nothing yet, or a sudog parked in `recvq`.
pub(crate) type RecvState<T> = Option<Arc<Sudog<T>>>;

pub(crate) fn poll_recv<T>(
    chan: &Chan<T>,
    state: &mut RecvState<T>,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    if let Some(sg) = state {
        if sg.sel().committed().is_none() {
            sg.sel().register(cx.waker());
            // Re-check after registering: a commit in between would have
            // taken the old waker.
            if sg.sel().committed().is_none() {
                return Poll::Pending;
            }
        }
        return Poll::Ready(finish_committed(chan, state));
    }
    let mut wakes = Vec::new();
    let mut g = chan.lock();
    let r = match g.try_recv(chan.cap, None, &mut wakes) {
        TryRecv::Got(v) => Poll::Ready(Some(v)),
        TryRecv::Closed => Poll::Ready(None),
        TryRecv::Empty => {
            let sg = Arc::new(Sudog::plain(None));
            sg.sel().register(cx.waker());
            enqueue(&mut g.recvq, sg.clone());
            g.check_invariants(chan.cap);
            *state = Some(sg);
            Poll::Pending
        }
    };
    drop(g);
    wake_all(wakes);
    if r.is_pending() {
        gort_core::runtime::set_wait_reason(WaitReason::ChanReceive);
    }
    r
}

/// Takes the value a peer committed to the sudog in `state` (`None`: the
/// channel closed).
fn finish_committed<T>(chan: &Chan<T>, state: &mut RecvState<T>) -> Option<T> {
    let sg = state.take().expect("finish without a sudog");
    let _g = chan.lock();
    // SAFETY: we hold the lock of the channel the sudog was queued in.
    unsafe { sg.take() }
}

/// Drop of a pending receive (see the module doc).
pub(crate) fn cancel_recv<T>(chan: &Chan<T>, state: &mut RecvState<T>) {
    let Some(sg) = state.take() else { return };
    let mut wakes = Vec::new();
    {
        let mut g = chan.lock();
        match sg.sel().cancel() {
            Ok(()) => g.dequeue(&sg),
            Err(_) => {
                // SAFETY: we hold this channel's lock.
                if let Some(v) = unsafe { sg.take() } {
                    g.hand_back(v, &mut wakes);
                }
            }
        }
    }
    wake_all(wakes);
}

/// A send in progress: the value not yet offered, or a sudog holding it in
/// `sendq`.
pub(crate) struct SendState<T> {
    pub(crate) value: Option<T>,
    pub(crate) sudog: Option<Arc<Sudog<T>>>,
}

impl<T> SendState<T> {
    pub(crate) fn new(v: T) -> SendState<T> {
        SendState {
            value: Some(v),
            sudog: None,
        }
    }
}

/// `Ok(())` once delivered; `Err(v)` with the value back if the channel is
/// closed (or every receiver is gone).
pub(crate) fn poll_send<T>(
    chan: &Chan<T>,
    st: &mut SendState<T>,
    cx: &mut Context<'_>,
) -> Poll<Result<(), T>> {
    if let Some(sg) = &st.sudog {
        if sg.sel().committed().is_none() {
            sg.sel().register(cx.waker());
            if sg.sel().committed().is_none() {
                return Poll::Pending;
            }
        }
        let sg = st.sudog.take().expect("checked above");
        let _g = chan.lock();
        // SAFETY: we hold the lock of the channel the sudog was queued in.
        return Poll::Ready(match unsafe { sg.take() } {
            None => Ok(()),
            Some(v) => Err(v),
        });
    }
    let v = st.value.take().expect("send polled after completion");
    let mut wakes = Vec::new();
    let mut g = chan.lock();
    let r = match g.try_send(chan.cap, v, None, &mut wakes) {
        TrySend::Sent => Poll::Ready(Ok(())),
        TrySend::Closed(v) => Poll::Ready(Err(v)),
        TrySend::Full(v) => {
            let sg = Arc::new(Sudog::plain(Some(v)));
            sg.sel().register(cx.waker());
            enqueue(&mut g.sendq, sg.clone());
            g.check_invariants(chan.cap);
            st.sudog = Some(sg);
            Poll::Pending
        }
    };
    drop(g);
    wake_all(wakes);
    if r.is_pending() {
        gort_core::runtime::set_wait_reason(WaitReason::ChanSend);
    }
    r
}

/// Drop of a pending send: the value, if not delivered, is dropped (after
/// the lock is released).
pub(crate) fn cancel_send<T>(chan: &Chan<T>, st: &mut SendState<T>) {
    let Some(sg) = st.sudog.take() else { return };
    let undelivered = {
        let mut g = chan.lock();
        if sg.sel().cancel().is_ok() {
            g.dequeue(&sg);
        }
        // SAFETY: we hold this channel's lock.
        unsafe { sg.take() }
    };
    drop(undelivered);
}

/// Queues a waiter. The first one allocates room for exactly one: most
/// channels have at most one waiter at a time, and a channel per parked task
/// makes the default first allocation (four slots) the larger part of the
/// queue's cost.
pub(crate) fn enqueue<T>(q: &mut std::collections::VecDeque<Arc<Sudog<T>>>, sg: Arc<Sudog<T>>) {
    if q.capacity() == 0 {
        q.reserve_exact(1);
    }
    q.push_back(sg);
}
