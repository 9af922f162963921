//! The wait queue shared by Mutex, RwMutex, Cond and Semaphore: Go's
//! `semaRoot` queue of sudogs, reduced to what an async waiter needs.
//!
//! Each waiting future owns one *slot*, named by a key. A slot is
//! `Queued` (in the FIFO order, holding the waiter's latest waker) until a
//! waker-side call takes it off the queue and marks it `Notified` with a
//! [`Wake`]: `Woken` (go and look again, as Go's `semrelease` without
//! hand-off) or `Handoff` (the resource is already yours, as Go's
//! `semrelease(handoff=true)`). Only the waiter frees its slot, when it
//! finishes or is dropped, so a key is never reused under a live waiter.
//!
//! The queue is a plain value: the primitive that owns it keeps it behind
//! its own lock (`crate::loom::Mutex`), and that lock is what orders a
//! waiter's "check, then enqueue" against a waker's "change, then dequeue"
//! (the check / register / re-check pattern). Wakers are returned to the
//! caller, to be woken after that lock is released.
//!
//! Rejected: an intrusive list of pinned waiter nodes (tokio's
//! `batch_semaphore`). It saves the slab's allocation and the `O(n)`
//! removal of a cancelled waiter from the middle of the order, at the price
//! of `unsafe` pointer juggling in every primitive; a slab is safe code and
//! cancellation is the rare path.

use gort_core::task::{park_waker, same_waker};
use std::collections::VecDeque;
use std::task::Waker;
use std::time::Instant;

/// How a notified waiter was woken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Woken to try again; it owns nothing yet.
    Woken,
    /// Handed the resource directly; it owns it now.
    Handoff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotState {
    Free,
    Queued,
    Notified(Wake),
}

#[derive(Debug)]
struct Slot {
    state: SlotState,
    waker: Option<Waker>,
    /// When the waiter first queued (Mutex: the starvation clock).
    since: Instant,
    /// What the waiter asks for (Semaphore: the weight; RwMutex: 0 read,
    /// 1 write).
    weight: usize,
}

/// A FIFO of waiters with per-waiter slots. See the module docs.
#[derive(Debug, Default)]
pub(crate) struct WaitQueue {
    slots: Vec<Slot>,
    free: Vec<usize>,
    order: VecDeque<usize>,
}

impl WaitQueue {
    pub(crate) fn new() -> WaitQueue {
        WaitQueue::default()
    }

    /// Waiters queued (not counting notified ones).
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn alloc(&mut self, waker: &Waker, since: Instant, weight: usize) -> usize {
        let slot = Slot {
            state: SlotState::Queued,
            waker: Some(park_waker(waker)),
            since,
            weight,
        };
        match self.free.pop() {
            Some(k) => {
                debug_assert_eq!(self.slots[k].state, SlotState::Free);
                self.slots[k] = slot;
                k
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        }
    }

    /// Queues a new waiter at the tail; returns its key.
    pub(crate) fn push_back(&mut self, waker: &Waker, since: Instant, weight: usize) -> usize {
        let k = self.alloc(waker, since, weight);
        self.order.push_back(k);
        k
    }

    /// Queues a new waiter at the head (Go's `queueLifo`: a woken waiter
    /// that lost the race goes back first in line).
    pub(crate) fn push_front(&mut self, waker: &Waker, since: Instant, weight: usize) -> usize {
        let k = self.alloc(waker, since, weight);
        self.order.push_front(k);
        k
    }

    /// Replaces a queued waiter's waker if it would wake a different task.
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        let slot = &mut self.slots[key];
        debug_assert_eq!(slot.state, SlotState::Queued);
        match &slot.waker {
            Some(w) if same_waker(w, waker) => {}
            _ => slot.waker = Some(park_waker(waker)),
        }
    }

    /// The head waiter's start time and weight, if any.
    pub(crate) fn front(&self) -> Option<(Instant, usize)> {
        self.order.front().map(|&k| {
            let s = &self.slots[k];
            (s.since, s.weight)
        })
    }

    /// Takes the head waiter off the queue, marks it notified with `how`,
    /// and returns its waker (to wake once the owner's lock is released).
    pub(crate) fn notify_front(&mut self, how: Wake) -> Option<Waker> {
        let k = self.order.pop_front()?;
        let slot = &mut self.slots[k];
        debug_assert_eq!(slot.state, SlotState::Queued);
        slot.state = SlotState::Notified(how);
        slot.waker.take()
    }

    /// How the waiter `key` was notified, if it was.
    pub(crate) fn notified(&self, key: usize) -> Option<Wake> {
        match self.slots[key].state {
            SlotState::Notified(how) => Some(how),
            SlotState::Queued => None,
            SlotState::Free => unreachable!("gort-sync: wait slot {key} used after free"),
        }
    }

    /// Frees the waiter's slot, taking it off the queue if it is still
    /// there. Returns how it had been notified (`None`: it was queued).
    pub(crate) fn remove(&mut self, key: usize) -> Option<Wake> {
        let prev = self.notified(key);
        if prev.is_none() {
            let pos = self
                .order
                .iter()
                .position(|&k| k == key)
                .expect("a queued waiter is in the order");
            self.order.remove(pos);
        }
        let slot = &mut self.slots[key];
        slot.state = SlotState::Free;
        slot.waker = None;
        self.free.push(key);
        prev
    }

    /// Whether `key` is the head of the queue.
    pub(crate) fn is_front(&self, key: usize) -> bool {
        self.order.front() == Some(&key)
    }
}

/// Wakes every waker in `wakers` (collected under a lock, woken after it).
pub(crate) fn wake_all(wakers: impl IntoIterator<Item = Waker>) {
    for w in wakers {
        w.wake();
    }
}
