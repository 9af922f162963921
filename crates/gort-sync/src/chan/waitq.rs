//! Wait queues (Go's `waitq`) and the waiter embedded in each channel.
//!
//! # The embedded waiter
//!
//! Most channels have at most one task waiting on them at a time (a task
//! parked on its own channel, the two ends of a ping-pong). So each channel
//! embeds one waiter, [`Lone`], that a plain `send`/`recv` uses when it
//! finds it free, instead of allocating a [`Sudog`]. Everything in it is
//! under the channel's lock, so it needs no atomics and no `unsafe`: the
//! peer claims it (`Waiting → Committed`), moves the value and takes the
//! waker holding the lock; the owner (the one operation whose state says
//! `Lone`) checks it, re-registers its waker and collects the value under
//! the lock too. Ping-pong costs nothing for this: the owner took the lock
//! to collect the value anyway. A second plain operation waiting on the
//! same channel, or a select case, gets a `Sudog` as before.
//!
//! ```text
//! Free ──owner parks──▶ Waiting ──peer claims──▶ Committed ──owner collects──▶ Free
//!                          └──owner cancels (dequeued)──────────────────────▶ Free
//! ```
//!
//! # The queue
//!
//! [`WaitQ`] keeps its first waiter inline and moves to a boxed `VecDeque`
//! on the second (and keeps that box: a channel that had two waiters is
//! likely to have them again). A queue with at most one waiter, the common
//! case, allocates nothing and takes 16 bytes instead of a `VecDeque`'s 32
//! plus its buffer.

use gort_core::task::{park_waker, same_waker};
use std::collections::VecDeque;
use std::sync::Arc;
use std::task::Waker;

use super::waiter::Sudog;

/// One entry of a wait queue.
#[derive(Debug)]
pub(crate) enum Waiter<T> {
    /// The channel's embedded waiter ([`Lone`]).
    Lone,
    /// A waiter with its own allocation (a select case, or a plain
    /// operation that found the embedded waiter taken).
    Sudog(Arc<Sudog<T>>),
}

impl<T> Waiter<T> {
    /// Whether this entry is `sg`.
    pub(crate) fn is(&self, sg: &Arc<Sudog<T>>) -> bool {
        matches!(self, Waiter::Sudog(x) if Arc::ptr_eq(x, sg))
    }
}

/// A FIFO of waiters: the first inline, more in a box.
#[derive(Debug)]
pub(crate) struct WaitQ<T>(Repr<T>);

#[derive(Debug)]
enum Repr<T> {
    Empty,
    One(Waiter<T>),
    /// Boxed on purpose: a `VecDeque` inline would make every queue 32
    /// bytes (every channel 32 bytes larger) to serve the rare channel
    /// with two waiters or more.
    #[allow(clippy::box_collection)]
    Many(Box<VecDeque<Waiter<T>>>),
}

impl<T> WaitQ<T> {
    pub(crate) const fn new() -> WaitQ<T> {
        WaitQ(Repr::Empty)
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        match &self.0 {
            Repr::Empty => true,
            Repr::One(_) => false,
            Repr::Many(q) => q.is_empty(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Repr::Empty => 0,
            Repr::One(_) => 1,
            Repr::Many(q) => q.len(),
        }
    }

    pub(crate) fn get(&self, i: usize) -> Option<&Waiter<T>> {
        match &self.0 {
            Repr::One(w) if i == 0 => Some(w),
            Repr::Many(q) => q.get(i),
            _ => None,
        }
    }

    #[inline]
    pub(crate) fn push_back(&mut self, w: Waiter<T>) {
        if let Repr::Empty = self.0 {
            // `replace` + `forget` rather than an assignment: the old
            // value is `Empty`, and the assignment's out-of-line drop glue
            // cost more than the rest of this push.
            std::mem::forget(std::mem::replace(&mut self.0, Repr::One(w)));
        } else {
            self.push_back_slow(w);
        }
    }

    fn push_back_slow(&mut self, w: Waiter<T>) {
        match &mut self.0 {
            Repr::Empty => self.0 = Repr::One(w),
            Repr::Many(q) => q.push_back(w),
            Repr::One(_) => {
                let Repr::One(first) = std::mem::replace(&mut self.0, Repr::Empty) else {
                    unreachable!("matched One")
                };
                let mut q = VecDeque::with_capacity(4);
                q.push_back(first);
                q.push_back(w);
                self.0 = Repr::Many(Box::new(q));
            }
        }
    }

    /// Removes the first waiter if it is the channel's embedded one and
    /// the only one queued (the ping-pong case); true if it did.
    #[inline]
    pub(crate) fn take_lone(&mut self) -> bool {
        if let Repr::One(Waiter::Lone) = self.0 {
            // `Waiter::Lone` owns nothing: forgetting it skips the drop
            // glue an assignment would call (see `push_back`).
            std::mem::forget(std::mem::replace(&mut self.0, Repr::Empty));
            true
        } else {
            false
        }
    }

    pub(crate) fn remove(&mut self, i: usize) -> Option<Waiter<T>> {
        match &mut self.0 {
            Repr::One(_) if i == 0 => match std::mem::replace(&mut self.0, Repr::Empty) {
                Repr::One(w) => Some(w),
                _ => unreachable!("matched One"),
            },
            Repr::Many(q) => q.remove(i),
            _ => None,
        }
    }

    /// Keeps the waiters for which `f` is true, in order.
    pub(crate) fn retain(&mut self, mut f: impl FnMut(&Waiter<T>) -> bool) {
        match &mut self.0 {
            Repr::Empty => {}
            Repr::One(w) => {
                if !f(w) {
                    self.0 = Repr::Empty;
                }
            }
            Repr::Many(q) => q.retain(f),
        }
    }

    /// Removes the first waiter matching `f`; true if one did.
    pub(crate) fn remove_first(&mut self, mut f: impl FnMut(&Waiter<T>) -> bool) -> bool {
        let found = (0..self.len()).find(|&i| self.get(i).is_some_and(&mut f));
        found.and_then(|i| self.remove(i)).is_some()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Waiter<T>> {
        (0..self.len()).filter_map(move |i| self.get(i))
    }
}

/// Where the embedded waiter is in its life (module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LoneState {
    /// No operation uses it.
    Free,
    /// Queued in `recvq` or `sendq` as [`Waiter::Lone`].
    Waiting,
    /// A peer completed it (or the channel closed); out of the queue, the
    /// value (if any) in the slot until the owner collects it.
    Committed,
}

/// The channel's embedded waiter: a sudog without its own allocation,
/// for a plain operation (module doc). Lives in the channel's `Inner`, so
/// the channel's lock protects every field.
#[derive(Debug)]
pub(crate) struct Lone<T> {
    state: LoneState,
    waker: Option<Waker>,
    /// A receive's delivered value, or a send's value until taken.
    slot: Option<T>,
}

impl<T> Lone<T> {
    pub(crate) const fn new() -> Lone<T> {
        Lone {
            state: LoneState::Free,
            waker: None,
            slot: None,
        }
    }

    /// Owner: takes the embedded waiter for a plain operation that must
    /// wait, if it is free. The caller queues [`Waiter::Lone`].
    pub(crate) fn try_park(&mut self, value: Option<T>, waker: &Waker) -> Result<(), Option<T>> {
        if self.state != LoneState::Free {
            return Err(value);
        }
        debug_assert!(self.slot.is_none() && self.waker.is_none());
        self.state = LoneState::Waiting;
        self.slot = value;
        self.waker = Some(park_waker(waker));
        Ok(())
    }

    /// Owner, polled again: `Some(slot)` (and free again) once a peer
    /// committed; otherwise re-registers `waker` and returns `None`. A
    /// waker it replaces goes to `replaced`, for the caller to drop once
    /// the channel's lock is released (it may be the last reference to
    /// another task).
    pub(crate) fn poll(
        &mut self,
        waker: &Waker,
        replaced: &mut Option<Waker>,
    ) -> Option<Option<T>> {
        match self.state {
            LoneState::Committed => Some(self.release()),
            LoneState::Waiting => {
                if !self.waker.as_ref().is_some_and(|w| same_waker(w, waker)) {
                    *replaced = self.waker.replace(park_waker(waker));
                }
                None
            }
            LoneState::Free => unreachable!("chan: the embedded waiter polled while free"),
        }
    }

    /// Owner: done with it (collected or cancelled); the slot's content.
    pub(crate) fn release(&mut self) -> Option<T> {
        self.state = LoneState::Free;
        self.waker = None;
        self.slot.take()
    }

    /// Whether it is queued, waiting for a peer.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.state == LoneState::Waiting
    }

    /// Peer, after [`commit`](Lone::commit): delivers a receive's value.
    #[inline]
    pub(crate) fn put(&mut self, v: T) {
        self.slot = Some(v);
    }

    /// Peer, after [`commit`](Lone::commit): takes a send's value.
    #[inline]
    pub(crate) fn take(&mut self) -> Option<T> {
        self.slot.take()
    }

    /// Peer: `Waiting → Committed`; the waker to wake after unlocking.
    #[inline]
    pub(crate) fn commit(&mut self) -> Option<Waker> {
        debug_assert_eq!(self.state, LoneState::Waiting, "a queued Lone is waiting");
        self.state = LoneState::Committed;
        self.waker.take()
    }
}
