//! The blocking halves of send and receive, shared by the futures, the
//! `Stream`/`Sink` impls: poll once, park (in the channel's embedded waiter
//! if it is free, else in a sudog of its own, see `waitq.rs`), collect the
//! result when a peer commits, and clean up on drop.
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

use super::hchan::{wake_all, Chan, Inner, Side, TryRecv, TrySend, Wakes};
use super::waiter::Sudog;
use super::waitq::Waiter;

/// Where a plain operation waits: not yet, in the channel's embedded
/// waiter (`waitq.rs`), or in a sudog of its own.
#[derive(Debug)]
pub(crate) enum Wait<T> {
    Idle,
    Lone,
    Sudog(Arc<Sudog<T>>),
}

impl<T> Wait<T> {
    pub(crate) fn is_idle(&self) -> bool {
        matches!(self, Wait::Idle)
    }
}

/// A receive in progress.
pub(crate) type RecvState<T> = Wait<T>;

/// Polls a parked operation (`state` not `Idle`): `Some(slot)` once a
/// peer committed to it (the value delivered to a receive, or a send's
/// value given back), `None` while it waits.
fn poll_parked<T>(chan: &Chan<T>, state: &mut Wait<T>, cx: &mut Context<'_>) -> Option<Option<T>> {
    let slot = match state {
        Wait::Idle => unreachable!("poll_parked on an idle operation"),
        Wait::Lone => {
            let mut replaced = None;
            let slot = chan.lock().poll_lone(cx.waker(), &mut replaced);
            drop(replaced); // after the lock (`Lone::poll`)
            slot?
        }
        Wait::Sudog(sg) => {
            if sg.sel().committed().is_none() {
                sg.sel().register(cx.waker());
                // Re-check after registering: a commit in between would
                // have taken the old waker.
                sg.sel().committed()?;
            }
            let mut g = chan.lock();
            // SAFETY: the sudog was queued in this channel.
            unsafe { g.take_from(sg) }
        }
    };
    *state = Wait::Idle;
    Some(slot)
}

/// Parks a plain operation that found nothing to do, under the lock `g`:
/// in the embedded waiter if it is free, else in a sudog of its own.
fn park<T>(g: &mut Inner<T>, side: Side, value: Option<T>, cx: &mut Context<'_>) -> Wait<T> {
    let (w, st) = match g.park_lone(value, cx.waker()) {
        Ok(()) => (Waiter::Lone, Wait::Lone),
        Err(value) => {
            let sg = Arc::new(Sudog::plain(value));
            sg.sel().register(cx.waker());
            (Waiter::Sudog(sg.clone()), Wait::Sudog(sg))
        }
    };
    g.enqueue(side, w);
    st
}

pub(crate) fn poll_recv<T>(
    chan: &Chan<T>,
    state: &mut RecvState<T>,
    cx: &mut Context<'_>,
) -> Poll<Option<T>> {
    if !state.is_idle() {
        return match poll_parked(chan, state, cx) {
            Some(v) => Poll::Ready(v),
            None => Poll::Pending,
        };
    }
    let mut wakes = Wakes::new();
    let mut g = chan.lock();
    let r = match g.try_recv(chan.cap(), None, &mut wakes) {
        TryRecv::Got(v) => Poll::Ready(Some(v)),
        TryRecv::Closed => Poll::Ready(None),
        TryRecv::Empty => {
            *state = park(&mut g, Side::Recv, None, cx);
            g.check_invariants(chan.cap());
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

/// Drop of a pending receive (see the module doc). The idle check is
/// inlined: most receive futures are dropped idle (completed, or turned
/// into a select case).
#[inline]
pub(crate) fn cancel_recv<T>(chan: &Chan<T>, state: &mut RecvState<T>) {
    if !state.is_idle() {
        cancel_parked_recv(chan, state);
    }
}

fn cancel_parked_recv<T>(chan: &Chan<T>, state: &mut RecvState<T>) {
    let mut wakes = Wakes::new();
    match std::mem::replace(state, Wait::Idle) {
        Wait::Idle => return,
        Wait::Lone => {
            let mut g = chan.lock();
            if let Some(v) = g.leave_lone() {
                g.hand_back(v, &mut wakes);
            }
        }
        Wait::Sudog(sg) => {
            let mut g = chan.lock();
            match sg.sel().cancel() {
                Ok(()) => g.dequeue(&sg),
                Err(_) => {
                    // SAFETY: the sudog was queued in this channel.
                    if let Some(v) = unsafe { g.take_from(&sg) } {
                        g.hand_back(v, &mut wakes);
                    }
                }
            }
        }
    }
    wake_all(wakes);
}

/// A send in progress: the value not yet offered, or parked (the value in
/// its waiter).
pub(crate) struct SendState<T> {
    pub(crate) value: Option<T>,
    pub(crate) wait: Wait<T>,
}

impl<T> SendState<T> {
    pub(crate) fn new(v: T) -> SendState<T> {
        SendState {
            value: Some(v),
            wait: Wait::Idle,
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
    if !st.wait.is_idle() {
        return match poll_parked(chan, &mut st.wait, cx) {
            Some(None) => Poll::Ready(Ok(())),
            Some(Some(v)) => Poll::Ready(Err(v)),
            None => Poll::Pending,
        };
    }
    let v = st.value.take().expect("send polled after completion");
    let mut wakes = Wakes::new();
    let mut g = chan.lock();
    let r = match g.try_send(chan.cap(), v, None, &mut wakes) {
        TrySend::Sent => Poll::Ready(Ok(())),
        TrySend::Closed(v) => Poll::Ready(Err(v)),
        TrySend::Full(v) => {
            st.wait = park(&mut g, Side::Send, Some(v), cx);
            g.check_invariants(chan.cap());
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
/// the lock is released). The idle check is inlined, as for receives.
#[inline]
pub(crate) fn cancel_send<T>(chan: &Chan<T>, st: &mut SendState<T>) {
    if !st.wait.is_idle() {
        cancel_parked_send(chan, st);
    }
}

fn cancel_parked_send<T>(chan: &Chan<T>, st: &mut SendState<T>) {
    let undelivered = match std::mem::replace(&mut st.wait, Wait::Idle) {
        Wait::Idle => return,
        Wait::Lone => chan.lock().leave_lone(),
        Wait::Sudog(sg) => {
            let mut g = chan.lock();
            if sg.sel().cancel().is_ok() {
                g.dequeue(&sg);
            }
            // SAFETY: the sudog was queued in this channel.
            unsafe { g.take_from(&sg) }
        }
    };
    drop(undelivered);
}
